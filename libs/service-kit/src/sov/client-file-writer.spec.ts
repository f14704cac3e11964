import { createHash, randomBytes } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { decodeFrom, type MessageOfType } from '@deltaflow/contracts';
import type { Producer } from 'kafkajs';
import { ClientFileWriter, SUPERBLOCK_BYTES } from './client-file-writer';
import type { ClientFileReport, SovClient } from './sov-client';

/** A stand-in SovClient: records what is sent, answers ClientFileClose with ClientFileClosed. */
function fakeClient() {
  const sent: Array<{ producer: number; messages: Array<MessageOfType<'Superblock'> | MessageOfType<'ClientFileOpen'> | MessageOfType<'ClientFileClose'>> }> = [];
  const reports = new Map<string, ClientFileReport>();
  const waiters: Array<() => void> = [];
  const producers = [{ id: 0 }, { id: 1 }] as unknown as Producer[];
  const client = {
    async send(p: Producer, records: Array<{ topic: string; value: Buffer }>) {
      const messages = records.map((r) => decodeFrom(r.topic as 'sov.superblocks', r.value) as never);
      sent.push({ producer: producers.indexOf(p), messages });
      for (const m of messages as Array<{ type: string; incarnation: string; superblocks: number; bytes: number; sha256: string; stream: string; clientFile: string }>)
        if (m.type === 'ClientFileClose') {
          reports.get(m.incarnation)!.closed = { ...m, type: 'ClientFileClosed', occurredAt: 1 } as never;
          waiters.splice(0).forEach((w) => w());
        }
    },
    watch(inc: string) {
      if (!reports.has(inc)) reports.set(inc, { incarnation: inc, opened: true, runs: [] });
      return reports.get(inc)!;
    },
    unwatch() {},
    until<T>(inc: string, done: (r: ClientFileReport) => T | undefined): Promise<T> {
      return new Promise((resolve, reject) => {
        const check = () => {
          try {
            const v = done(reports.get(inc)!);
            if (v === undefined) waiters.push(check);
            else resolve(v);
          } catch (e) {
            reject(e);
          }
        };
        check();
      });
    },
  } as unknown as SovClient;
  const superblocks = () => sent.flatMap((s) => s.messages).filter((m): m is MessageOfType<'Superblock'> => m.type === 'Superblock');
  return { client, producers, sent, reports, superblocks };
}

const INC = '12345678-1234-4234-8234-123456789abc';
const open = (c: ReturnType<typeof fakeClient>, opts = {}) => ClientFileWriter.open(c.client, c.producers, { stream: 'S', clientFile: 'f', incarnation: INC, dbid: 3, kind: 'full' }, opts);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ClientFileWriter', () => {
  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['exactly one superblock', SUPERBLOCK_BYTES],
    ['exactly three', 3 * SUPERBLOCK_BYTES],
    ['three and a bit', 3 * SUPERBLOCK_BYTES + 17],
  ])('cuts %s into 256 KiB superblocks, the last one flagged, each with its CRC', async (_name, size) => {
    const c = fakeClient();
    const w = await open(c);
    const data = randomBytes(size);
    for (let off = 0; off < size; off += 100_000) await w.write(data.subarray(off, off + 100_000));
    const done = await w.finish();
    const sbs = c.superblocks();
    const n = Math.max(1, Math.ceil(size / SUPERBLOCK_BYTES));
    expect(sbs.map((s) => s.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(sbs.map((s) => s.last)).toEqual(Array.from({ length: n }, (_, i) => i === n - 1));
    for (const s of sbs) expect(s.crc).toBe(crc32c(s.payload));
    expect(Buffer.concat(sbs.map((s) => Buffer.from(s.payload)))).toEqual(data);
    expect(done).toMatchObject({ superblocks: n, bytes: size, sha256: sha(data) });
    const close = c.sent.flatMap((s) => s.messages).find((m) => m.type === 'ClientFileClose');
    expect(close).toMatchObject({ superblocks: n, bytes: size, sha256: sha(data) });
    expect(c.sent[0].messages[0]).toMatchObject({ type: 'ClientFileOpen', dbid: 3, kind: 'full', incarnation: INC });
  });

  it('batches superblocks per request, spreads requests over its connections, and refuses to write after finishing', async () => {
    const c = fakeClient();
    const w = await open(c, { superblocksPerRequest: 2, inFlight: 1, connections: 2 });
    await w.write(Buffer.alloc(8 * SUPERBLOCK_BYTES + 1));
    await w.finish();
    const requests = c.sent.filter((s) => s.messages[0].type === 'Superblock');
    expect(requests.flatMap((r) => r.messages.map((m) => (m as MessageOfType<'Superblock'>).seq))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Math.max(...requests.map((r) => r.messages.length))).toBe(2);
    expect(new Set(requests.map((r) => r.producer))).toEqual(new Set([0, 1]));
    await expect(w.write(Buffer.alloc(1))).rejects.toThrow(/finished/);
  });

  it('fails when the multiplexer aborted or refused the client file', async () => {
    const c = fakeClient();
    const w = await open(c);
    await w.write(Buffer.alloc(10));
    c.reports.get(INC)!.refused = { code: 'UNKNOWN_STREAM', reason: 'ClientFileOpen refused: stream S is not defined' };
    await expect(w.write(Buffer.alloc(10))).rejects.toThrow(/stream S is not defined/);
  });
});
