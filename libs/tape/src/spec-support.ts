// Test support (not exported): writes client files onto volumes exactly as the stream
// multiplexer is meant to, and records the sov.events it would publish.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { CatalogEvent, openedEventOf } from './catalog';
import { ClientFileSession, codecSpec, EncodedSuperblock } from './codec';
import { Device } from './device';
import { CodecSpec, MAX_SUPERBLOCK_PAYLOAD, OpenRecord } from './format';
import { Durable, RunPlacement, VolumeWriter } from './writer';

export interface TestFile {
  readonly name: string;
  readonly data: Buffer;
  readonly compression?: CodecSpec['compression'];
  readonly operatorKey?: Buffer;
  readonly incarnation?: string;
}

export interface Written {
  readonly opens: Map<string, OpenRecord>;
  /** incarnation by client file name (last written) */
  readonly byName: Map<string, string>;
  readonly placements: RunPlacement[];
  readonly volumes: string[];
  readonly events: CatalogEvent[];
}

/** Deterministic pseudo-random bytes for `name`. */
export function content(name: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = [...name].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Database-like blocks: 8 KiB pages of records with repeated keys, text and free space. */
export function dbBlocks(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const words = ['CUSTOMER', 'ORDER', 'MUELLER', 'SCHMIDT', 'BERLIN', 'HAMBURG', 'PAID', 'OPEN', 'INVOICE', 'ARTICLE'];
  for (let page = 0; page < size; page += 8192) {
    b.writeUInt32BE(page / 8192, page);
    let p = page + 32;
    const fill = page + 8192 - (rnd() % 3000);
    let key = rnd() % 100000;
    while (p + 64 < Math.min(fill, size)) {
      b.writeUInt32BE(key++, p);
      b.writeUInt32BE(rnd() % 10000, p + 4);
      p += 8 + b.write(`${words[rnd() % words.length]} ${words[rnd() % words.length]} ${rnd() % 1000};`, p + 8, 'latin1');
    }
  }
  return b;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Writes `files` interleaved in runs of `k` superblocks (round robin) onto volumes V1, V2, …
 * of `device`, finishing a full volume with the next volser and continuing there.
 */
export async function writeStream(
  device: Device,
  files: readonly TestFile[],
  opts: { k?: number; sbSize?: number; checkpointEvery?: number; prefix?: string; finish?: boolean; firstVolume?: number; streamFile?: string } = {},
): Promise<Written & { writer: VolumeWriter }> {
  const k = opts.k ?? 4;
  const sbSize = opts.sbSize ?? MAX_SUPERBLOCK_PAYLOAD;
  const prefix = opts.prefix ?? 'V';
  let volNo = opts.firstVolume ?? 1;
  const events: CatalogEvent[] = [];
  const placements: RunPlacement[] = [];
  const volumes: string[] = [];
  const publish = (d: Durable) => {
    for (const r of d.runs) {
      placements.push(r);
      events.push({ type: 'RunPlaced', incarnation: r.incarnation, volser: r.volser, firstSeq: r.firstSeq, superblocks: r.count, last: r.last, position: r.position, length: r.extent, bytes: r.bytes, crcs: r.crcs });
    }
    for (const c of d.closes) events.push({ type: 'ClientFileClosed', ...c.record, occurredAt: c.record.closedAt });
    for (const a of d.aborts) events.push({ type: 'ClientFileAborted', incarnation: a.record.incarnation, reason: a.record.reason, occurredAt: a.record.abortedAt });
  };
  const label = async (previous?: string) => {
    const volser = `${prefix}${volNo}`;
    volumes.push(volser);
    const w = await VolumeWriter.label(
      device,
      { volser, stream: 'NIGHTLY', streamFile: opts.streamFile ?? 'SF1', sequence: volNo, createdAt: 1_800_000_000_000, tag: randomBytes(8).toString('hex'), ...(previous ? { previousVolser: previous } : {}) },
      { checkpointEveryBytes: opts.checkpointEvery ?? 64 << 20 },
    );
    events.push({ type: 'VolumeMounted', stream: 'NIGHTLY', volser, streamFile: opts.streamFile ?? 'SF1', volumeSeq: volNo, ...(previous ? { previousVolser: previous } : {}) });
    return w;
  };
  let w = await label();
  const sessions = files.map((f, i) => {
    const open: OpenRecord = {
      incarnation: f.incarnation ?? randomUUID(),
      clientFile: f.name,
      stream: 'NIGHTLY',
      dbid: 7,
      dsid: { full: 1, deltaFrom: i, deltaTo: i, timestamp: 1_800_000_000_000 + i, lineage: 'L1' },
      kind: i % 2 ? 'delta' : 'full',
      expiresAt: 1_900_000_000_000,
      description: `test file ${f.name}`,
      openedAt: 1_800_000_000_000 + i,
      codec: codecSpec({ compression: f.compression, operatorKey: f.operatorKey, dataKey: f.operatorKey ? randomBytes(32) : undefined }),
    };
    events.push(openedEventOf(open));
    return { f, s: ClientFileSession.start(open, f.operatorKey), off: 0, seq: 0, done: false };
  });
  const append = async (open: OpenRecord, run: EncodedSuperblock[]) => {
    let rest = run;
    while (rest.length) {
      const r = await w.appendRun(open, rest);
      rest = r.rest;
      if (rest.length) {
        const prev = w.volser;
        volNo++;
        const fin = await w.finish({ finishedAt: 1_800_000_100_000, nextVolser: `${prefix}${volNo}` });
        publish(fin.durable);
        events.push({ type: 'VolumeFull', volser: prev, nextVolser: `${prefix}${volNo}` });
        w = await label(prev);
      }
    }
  };
  while (sessions.some((x) => !x.done)) {
    for (const x of sessions) {
      if (x.done) continue;
      const run: EncodedSuperblock[] = [];
      for (let i = 0; i < k && !x.done; i++) {
        const payload = x.f.data.subarray(x.off, x.off + sbSize);
        const last = x.off + payload.length >= x.f.data.length;
        run.push(await x.s.encode({ seq: x.seq++, last, payload, crc: crc32c(payload) }));
        x.off += payload.length;
        x.done = last;
      }
      await append(x.s.open, run);
      if (x.done) await w.writeClose(x.s.open, x.s.closeRecord({ closedAt: 1_800_000_050_000, sha256: sha256(x.f.data) }));
      publish(await w.sync());
    }
  }
  if (opts.finish !== false) {
    const fin = await w.finish({ finishedAt: 1_800_000_100_000 });
    publish(fin.durable);
    events.push({ type: 'VolumeFull', volser: w.volser });
  }
  await device.unmount();
  const opens = new Map(sessions.map((x) => [x.s.incarnation, x.s.open]));
  const byName = new Map(sessions.map((x) => [x.f.name, x.s.incarnation]));
  return { opens, byName, placements, volumes, events, writer: w };
}

export async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

export async function errorOf(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
