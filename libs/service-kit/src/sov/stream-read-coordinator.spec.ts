import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { ClientFileSession, codecSpec, TapeModelDevice, VirtualClock, VolumeWriter, type OpenRecord, type RunPlacement } from '@deltaflow/tape';
import type { ClientFilePlacements } from './client-file-reader';
import { StreamReadCoordinator } from './stream-read-coordinator';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SB = 64 * 1024;

function bytesOf(name: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = [...name].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) >>> 0;
  for (let i = 0; i < size; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  return b;
}

/** Client files interleaved in runs of 2 superblocks on one volume of the tape model, as the multiplexer writes them; their catalog placements. */
async function interleaved(dev: TapeModelDevice, files: Array<{ name: string; data: Buffer }>, operatorKey?: Buffer): Promise<Map<string, ClientFilePlacements>> {
  const w = await VolumeWriter.label(dev, { volser: 'V1', stream: 'S1', streamFile: 'SF1', sequence: 1, createdAt: 1, tag: randomBytes(8).toString('hex') });
  const state = files.map((f) => {
    const open: OpenRecord = { incarnation: randomUUID(), clientFile: f.name, stream: 'S1', openedAt: 1, codec: codecSpec({ compression: 'zstd', operatorKey, dataKey: operatorKey ? randomBytes(32) : undefined }) };
    return { f, open, s: ClientFileSession.start(open, operatorKey), off: 0, seq: 0, done: false, runs: [] as RunPlacement[] };
  });
  for (const x of state) await w.writeOpen(x.open);
  while (state.some((x) => !x.done)) {
    for (const x of state.filter((y) => !y.done)) {
      const run = [];
      for (let i = 0; i < 2 && !x.done; i++) {
        const payload = x.f.data.subarray(x.off, x.off + SB);
        x.off += payload.length;
        x.done = x.off >= x.f.data.length;
        run.push(await x.s.encode({ seq: x.seq++, last: x.done, payload, crc: crc32c(payload) }));
      }
      const { placement } = await w.appendRun(x.open, run);
      x.runs.push(placement!);
      if (x.done) await w.writeClose(x.open, x.s.closeRecord({ closedAt: 2, sha256: sha(x.f.data) }));
    }
  }
  await w.sync();
  await dev.unmount();
  return new Map(
    state.map((x) => [
      x.f.name,
      {
        incarnation: x.open.incarnation,
        clientFile: x.f.name,
        stream: 'S1',
        state: 'closed' as const,
        open: x.open,
        close: { superblocks: x.seq, bytes: x.f.data.length, sha256: sha(x.f.data), closedAt: 2 },
        runs: x.runs.map((r) => ({ volser: r.volser, position: r.position, length: r.extent, firstSeq: r.firstSeq, superblocks: r.count, last: r.last, bytes: r.bytes, crcs: r.crcs })),
        volsers: ['V1'],
      },
    ]),
  );
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts);
}

const model = () => new TapeModelDevice({ capacity: 1 << 30, rateBytesPerSec: 100e6, locateBaseSec: 4, startStopSec: 2, loadSec: 10, clock: new VirtualClock() });

describe('StreamReadCoordinator', () => {
  it('eight restores of interleaved client files started together are served byte-identical by one pass (no LOCATE)', async () => {
    const dev = model();
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `file${i}`, data: bytesOf(`file${i}`, 300_000 + i * 40_000) }));
    const placements = await interleaved(dev, files);
    const c = new StreamReadCoordinator({ deviceFor: () => dev, windowMs: 50, highWaterBytes: 128 * 1024 });
    const locates = dev.stats.locates;
    const got = await Promise.all(files.map((f) => collect(c.read(placements.get(f.name)!))));
    got.forEach((b, i) => expect(sha(b)).toBe(sha(files[i].data)));
    expect(c.passes).toEqual([{ stream: 'S1', restores: 8, joined: 0, repositions: 0, failures: 0 }]);
    expect(dev.stats.locates - locates).toBe(0);
  });

  it('a restore arriving while a pass is under way joins it when its runs lie ahead of the head, otherwise waits for the next pass', async () => {
    const dev = model();
    const files = Array.from({ length: 3 }, (_, i) => ({ name: `f${i}`, data: bytesOf(`f${i}`, 400_000) }));
    const placements = await interleaved(dev, files);
    const c = new StreamReadCoordinator({ deviceFor: () => dev, windowMs: 20, highWaterBytes: 64 * 1024 });
    const first = c.read(placements.get('f0')!);
    const parts = [(await first.next()).value as Buffer];
    // the head is at the end of f0's first run: f1's and f2's runs all lie ahead
    const ahead = collect(c.read(placements.get('f1')!));
    for (let i = 0; i < 3; i++) parts.push((await first.next()).value as Buffer);
    // the head is past f2's first run now
    const behind = collect(c.read(placements.get('f2')!));
    for await (const b of first) parts.push(b);
    expect(sha(Buffer.concat(parts))).toBe(sha(files[0].data));
    expect(sha(await ahead)).toBe(sha(files[1].data));
    expect(sha(await behind)).toBe(sha(files[2].data));
    expect(c.passes.map((p) => [p.restores, p.joined])).toEqual([
      [2, 1],
      [1, 0],
    ]);
  });

  it('refuses a wrong operator key with a clear error, and fails a restore whose bytes differ from its close record', async () => {
    const dev = model();
    const key = randomBytes(32);
    const files = [{ name: 'secret', data: bytesOf('secret', 200_000) }];
    const placements = await interleaved(dev, files, key);
    const wrong = new StreamReadCoordinator({ deviceFor: () => dev, operatorKey: randomBytes(32), windowMs: 10 });
    expect(() => wrong.read(placements.get('secret')!)).toThrow(/encrypted with operator key [0-9a-f]+; the key given is/);
    const right = new StreamReadCoordinator({ deviceFor: () => dev, operatorKey: key, windowMs: 10 });
    expect(sha(await collect(right.read(placements.get('secret')!)))).toBe(sha(files[0].data));
    const p = placements.get('secret')!;
    await expect(collect(right.read({ ...p, close: { ...p.close!, sha256: '0'.repeat(64) } }))).rejects.toThrow(/the close record says/);
  });
});
