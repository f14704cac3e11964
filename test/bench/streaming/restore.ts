/**
 * Restores from a shared (interleaved) tape against the same restore from a dedicated volume, on
 * the tape-model device (libs/tape TapeModelDevice: LTO-9-like 400 MB/s streaming, LOCATE = 3 s +
 * distance at 8 × the streaming speed, stop-and-backhitch below a third of it, 15 s load). Tape
 * time is the device's virtual clock, so the figures are deterministic; wall time is printed next
 * to it (the CPU cost of verifying and decoding). Then the codec on the sample database's bytes and
 * encryption's cost on a full save. Prints figures; asserts only that every restore is byte-identical.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/streaming/restore.ts
 *
 * DELTAFLOW_BENCH_RESTORE_MIB: size of each of the eight client files (default 64);
 * DELTAFLOW_BENCH_RESTORE_K: run lengths to sweep, superblocks of 256 KiB (default 16,64);
 * DELTAFLOW_BENCH_SAMPLE_MIB: the sample database for the codec and the save (default 256);
 * DELTAFLOW_BENCH_DIR: where the save's volumes go (default the OS temp dir); DELTAFLOW_BENCH_PARTS: which parts
 * run (default restores,codec,encryption).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import { crc32c } from '@deltaflow/checksum';
import { mulberry32 } from '@deltaflow/core';
import {
  codecSpec,
  executePlan,
  FileDevice,
  MAX_SUPERBLOCK_PAYLOAD,
  planRestores,
  readClientFile,
  SuperblockCodec,
  TapeModelDevice,
  VolumeWriter,
  type CodecSpec,
  type OpenRecord,
  type RestoreRun,
  type TapeModelOptions,
} from '@deltaflow/tape';
import { blockImage } from '../../../apps/nucleus-sim/src/block-image';
import { content, writeStream, type Written } from '../../../libs/tape/src/spec-support';
import { record } from '../report';
import { MiB, secondsSince, table } from './support';

const FILE_MIB = Number(process.env.DELTAFLOW_BENCH_RESTORE_MIB ?? 64);
const KS = (process.env.DELTAFLOW_BENCH_RESTORE_K ?? '16,64').split(',').map(Number);
const SAMPLE_MIB = Number(process.env.DELTAFLOW_BENCH_SAMPLE_MIB ?? 256);
const FILES = 8;
const LOAD_SEC = 15;
const LTO9: TapeModelOptions = { capacity: 18e12, rateBytesPerSec: 400e6, loadSec: LOAD_SEC };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function runsOf(w: Written, incarnation: string): RestoreRun[] {
  return w.placements
    .filter((p) => p.incarnation === incarnation)
    .map((p) => ({ volser: p.volser, position: p.position, extent: p.extent, incarnation, firstSeq: p.firstSeq, count: p.count, crcs: p.crcs }));
}

/** Tape seconds (and wall seconds) of `fn`, from the volume mounted with the head at its start. */
async function timed(dev: TapeModelDevice, volser: string, fn: () => Promise<void>): Promise<{ tape: number; wall: number }> {
  await dev.unmount();
  await dev.mount(volser);
  const c0 = dev.clock.now;
  const t0 = process.hrtime.bigint();
  await fn();
  return { tape: dev.clock.now - c0, wall: secondsSince(t0) };
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

/** Reads the whole volume once, start to end, in 32-block reads: the ceiling of any shared pass. */
async function onePass(dev: TapeModelDevice): Promise<void> {
  const end = dev.end();
  for (let p = 0; p < end; p += 32) await dev.read(p, Math.min(32, end - p));
}

/** Restores `files` in one planned pass; checks each is byte-identical. */
async function planned(dev: TapeModelDevice, w: Written, files: Array<{ name: string; data: Buffer }>): Promise<{ reads: number; readThrough: number }> {
  const requests = files.map((f) => ({ restore: f.name, incarnation: w.byName.get(f.name)!, runs: runsOf(w, w.byName.get(f.name)!) }));
  const plan = planRestores(requests, { readThroughGap: dev.readThroughGap, volumeOrder: w.volumes });
  const codecs = new Map(requests.map((r) => [r.incarnation, SuperblockCodec.open(w.opens.get(r.incarnation)!)]));
  const got = new Map(files.map((f) => [f.name, [] as Buffer[]]));
  const sinks = new Map(files.map((f) => [f.name, (b: Buffer) => void got.get(f.name)!.push(Buffer.from(b))]));
  await executePlan(dev, plan, codecs, sinks);
  for (const f of files) if (sha(Buffer.concat(got.get(f.name)!)) !== sha(f.data)) throw new Error(`planned restore of ${f.name} differs`);
  return { reads: plan.reads.length, readThrough: plan.readThrough };
}

async function restores(): Promise<void> {
  const files = Array.from({ length: FILES }, (_, i) => ({ name: `client.${i}`, data: content(`client.${i}`, FILE_MIB * MiB) }));
  const rows: string[][] = [];
  const fmt = (x: { tape: number; wall: number }) => `${x.tape.toFixed(2)} s (${x.wall.toFixed(2)} s wall)`;
  for (const k of KS) {
    const shared = new TapeModelDevice({ ...LTO9, name: 'shared' });
    const w = await writeStream(shared, files, { k });
    const dedicated = new TapeModelDevice({ ...LTO9, name: 'dedicated' });
    const d = await writeStream(dedicated, [files[0]], { k });
    const volser = w.volumes[0];
    if (w.volumes.length !== 1 || d.volumes.length !== 1) throw new Error('each case must fit one volume');
    const f0 = files[0];

    // one client file: from its dedicated volume, and out of eight interleaved (planner; seek to each run)
    const ded = await timed(dedicated, d.volumes[0], async () => {
      const inc = d.byName.get(f0.name)!;
      if (sha(await collect(readClientFile(dedicated, d.opens.get(inc)!, runsOf(d, inc)))) !== sha(f0.data)) throw new Error('dedicated restore differs');
    });
    let plan1 = { reads: 0, readThrough: 0 };
    const one = await timed(shared, volser, async () => {
      plan1 = await planned(shared, w, [f0]);
    });
    const seek = await timed(shared, volser, async () => {
      const inc = w.byName.get(f0.name)!;
      if (sha(await collect(readClientFile(shared, w.opens.get(inc)!, runsOf(w, inc)))) !== sha(f0.data)) throw new Error('restore by placements differs');
    });
    const load = LOAD_SEC; // a restore also loads the cartridge, the same for both
    rows.push([`K=${k}`, '1 of 8 interleaved, planner', fmt(one), fmt(ded), (one.tape / ded.tape).toFixed(2), ((one.tape + load) / (ded.tape + load)).toFixed(2), `${plan1.reads} read(s), ${(plan1.readThrough / 1).toFixed(0)} blocks read through`]);
    rows.push([`K=${k}`, '1 of 8 interleaved, LOCATE to each run', fmt(seek), fmt(ded), (seek.tape / ded.tape).toFixed(2), ((seek.tape + load) / (ded.tape + load)).toFixed(2), `${runsOf(w, w.byName.get(f0.name)!).length} runs`]);
    record({ bench: 'streaming-restore', figure: `1 of 8 interleaved ${FILE_MIB} MiB files (K=${k}), planner, tape time`, value: one.tape, unit: 's', ceiling: { name: 'dedicated volume', value: ded.tape }, lowerIsBetter: true, goal: '≤ 1.2x dedicated' });

    // eight concurrent restores: one shared pass, against one pass over the volume
    const pass = await timed(shared, volser, () => onePass(shared));
    let plan8 = { reads: 0, readThrough: 0 };
    const eight = await timed(shared, volser, async () => {
      plan8 = await planned(shared, w, files);
    });
    // the same eight restores each on its own (no shared pass), all at once on the one drive
    const locates0 = shared.stats.locates;
    const naive = await timed(shared, volser, async () => {
      const out = await Promise.all(files.map((f) => collect(readClientFile(shared, w.opens.get(w.byName.get(f.name)!)!, runsOf(w, w.byName.get(f.name)!)))));
      out.forEach((b, i) => {
        if (sha(b) !== sha(files[i].data)) throw new Error(`unplanned restore of ${files[i].name} differs`);
      });
    });
    rows.push([`K=${k}`, '8 concurrent restores, one planned pass', fmt(eight), `${fmt(pass)} (one pass)`, (eight.tape / pass.tape).toFixed(2), ((eight.tape + load) / (pass.tape + load)).toFixed(2), `${plan8.reads} read(s)`]);
    rows.push([`K=${k}`, '8 concurrent restores, each by its placements', fmt(naive), `${fmt(pass)} (one pass)`, (naive.tape / pass.tape).toFixed(2), ((naive.tape + load) / (pass.tape + load)).toFixed(2), `${shared.stats.locates - locates0} locates`]);
    record({ bench: 'streaming-restore', figure: `8 concurrent restores of 8 interleaved ${FILE_MIB} MiB files (K=${k}), one planned pass, tape time`, value: eight.tape, unit: 's', ceiling: { name: 'one pass over the volume', value: pass.tape }, lowerIsBetter: true, goal: '≤ 1.1x one pass' });
    record({ bench: 'streaming-restore', figure: `8 concurrent restores (K=${k}), planned pass, wall time`, value: eight.wall, unit: 's', ceiling: { name: 'one raw pass, wall', value: pass.wall }, lowerIsBetter: true });
  }
  const r = LTO9.rateBytesPerSec;
  const runBytes = (k: number) => k * MAX_SUPERBLOCK_PAYLOAD;
  console.log(`\n== restores on the tape model (${FILES} client files of ${FILE_MIB} MiB interleaved in runs of K superblocks; 400 MB/s, LOCATE 3 s + distance at 3.2 GB/s, load 15 s)`);
  console.log(table(['runs', 'restore', 'tape time (wall)', 'against (same run)', 'ratio', 'ratio incl. load', 'notes'], rows));
  console.log(
    `as files grow, one file of n=${FILES} interleaved tends to min(n (read through), 1 + (n-1) x rate/locate speed + locate base x rate/run (locate each run)) x dedicated = ${KS.map((k) => `K=${k}: ${Math.min(FILES, 1 + (FILES - 1) / 8 + (3 * r) / runBytes(k)).toFixed(2)}`).join(', ')}`,
  );
}

/** The sample database's bytes as nucleus-sim writes them: every block of sampleGeometryOfSize(mib) written once. */
function sampleDatabase(mib: number): Buffer {
  const g = sampleGeometryOfSize(mib);
  const random = mulberry32(1);
  const parts: Buffer[] = [];
  let lsn = 1;
  for (let rabn = 1; rabn <= g.asso.blocks; rabn++) parts.push(blockImage(g.asso.blockSize, 1, rabn, lsn++, Math.floor(random() * 0xffffffff)));
  for (let rabn = 1; rabn <= g.data.blocks; rabn++) parts.push(blockImage(g.data.blockSize, 1, rabn, lsn++, Math.floor(random() * 0xffffffff)));
  return Buffer.concat(parts);
}

function openOf(spec: CodecSpec): OpenRecord {
  return { incarnation: randomUUID(), clientFile: 'sample', stream: 'BENCH', openedAt: Date.now(), codec: spec };
}

async function codecOnSample(data: Buffer): Promise<void> {
  const key = randomBytes(32);
  const rows: string[][] = [];
  const variants: Array<[string, Parameters<typeof codecSpec>[0]]> = [
    ['none', {}],
    ['zstd 1', { compression: 'zstd', level: 1 }],
    ['zstd 3', { compression: 'zstd', level: 3 }],
    ['zstd 3 + aes-256-gcm', { compression: 'zstd', level: 3, operatorKey: key }],
    ['aes-256-gcm', { operatorKey: key }],
  ];
  const t0 = process.hrtime.bigint();
  crc32c(data);
  const crcSec = secondsSince(t0);
  for (const [label, opts] of variants) {
    const open = openOf(codecSpec({ ...opts, dataKey: opts.operatorKey ? randomBytes(32) : undefined }));
    const codec = SuperblockCodec.open(open, key);
    const encoded = [];
    let t = process.hrtime.bigint();
    for (let off = 0, seq = 0; off < data.length; off += MAX_SUPERBLOCK_PAYLOAD, seq++) {
      const payload = data.subarray(off, off + MAX_SUPERBLOCK_PAYLOAD);
      encoded.push(await codec.encode({ seq, last: off + MAX_SUPERBLOCK_PAYLOAD >= data.length, payload, crc: crc32c(payload) }));
    }
    const enc = secondsSince(t);
    const stored = encoded.reduce((n, e) => n + e.body.length, 0);
    t = process.hrtime.bigint();
    for (const e of encoded)
      await codec.decode({ kind: 'S', flags: e.flags, tag: '0'.repeat(16), position: 0, bodyLength: e.body.length, bodyCrc: e.bodyCrc, incarnation: open.incarnation, seq: e.seq, rawLength: e.rawLength, contentCrc: e.contentCrc }, e.body);
    const dec = secondsSince(t);
    const mbs = (s: number) => data.length / 1e6 / s;
    rows.push([label, `${(data.length / stored).toFixed(2)}x`, mbs(enc).toFixed(0), mbs(dec).toFixed(0)]);
    record({ bench: 'streaming-restore', figure: `codec ${label} on the sample database, encode (ratio ${(data.length / stored).toFixed(2)})`, value: mbs(enc), unit: 'MB/s', ceiling: { name: 'CRC32C of the same bytes', value: mbs(crcSec) } });
  }
  console.log(`\n== per-superblock codec on the sample database (${SAMPLE_MIB} MiB, nucleus-sim's block images, every block written once; CRC32C of the same bytes: ${(data.length / 1e6 / crcSec).toFixed(0)} MB/s)`);
  console.log(table(['codec', 'ratio', 'encode MB/s', 'decode MB/s'], rows));
}

/**
 * A full save's write path after Kafka, as the multiplexer runs it (runtime/device.ts): the
 * superblocks of a run of 16 encoded together (Promise.all: zstd and AES-GCM on the thread pool),
 * the run appended, a sync every 64 MiB and at the close, onto a file device.
 */
async function saveTo(dir: string, data: Buffer, spec: CodecSpec, key: Buffer | undefined): Promise<number> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const dev = new FileDevice({ dir, capacity: data.length * 2 + (64 << 20) });
  const t0 = process.hrtime.bigint();
  const w = await VolumeWriter.label(dev, { volser: 'S1', stream: 'BENCH', streamFile: 'SF', sequence: 1, createdAt: Date.now(), tag: randomBytes(8).toString('hex') });
  const open = openOf(spec);
  const codec = SuperblockCodec.open(open, key);
  await w.writeOpen(open);
  const hash = createHash('sha256');
  let since = 0;
  let seq = 0;
  for (let off = 0; off < data.length; off += 16 * MAX_SUPERBLOCK_PAYLOAD) {
    const run = [];
    for (let o = off; o < Math.min(data.length, off + 16 * MAX_SUPERBLOCK_PAYLOAD); o += MAX_SUPERBLOCK_PAYLOAD) {
      const payload = data.subarray(o, o + MAX_SUPERBLOCK_PAYLOAD);
      hash.update(payload);
      run.push({ seq: seq++, last: o + MAX_SUPERBLOCK_PAYLOAD >= data.length, payload, crc: crc32c(payload) });
    }
    await w.appendRun(open, await Promise.all(run.map((sb) => codec.encode(sb))));
    since += run.length * MAX_SUPERBLOCK_PAYLOAD;
    if (since >= 64 * MiB) {
      await w.sync();
      since = 0;
    }
  }
  await w.writeClose(open, { incarnation: open.incarnation, superblocks: seq, bytes: data.length, sha256: hash.digest('hex'), closedAt: Date.now() });
  await w.sync();
  await w.finish({ finishedAt: Date.now() });
  await dev.unmount();
  return secondsSince(t0);
}

async function encryptionCost(data: Buffer): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-restore-'));
  const key = randomBytes(32);
  const rows: string[][] = [];
  try {
    for (const compression of ['none', 'zstd'] as const) {
      const plain: number[] = [];
      const enc: number[] = [];
      for (let i = 0; i < 3; i++) {
        // alternate, so both see the same page cache and disk state
        plain.push(await saveTo(path.join(root, 'p'), data, codecSpec({ compression }), undefined));
        enc.push(await saveTo(path.join(root, 'e'), data, codecSpec({ compression, operatorKey: key, dataKey: randomBytes(32) }), key));
      }
      const med = (a: number[]) => [...a].sort((x, y) => x - y)[1];
      const p = med(plain);
      const e = med(enc);
      rows.push([compression, `${p.toFixed(2)} s (${(data.length / 1e6 / p).toFixed(0)} MB/s)`, `${e.toFixed(2)} s (${(data.length / 1e6 / e).toFixed(0)} MB/s)`, `${(((e - p) / p) * 100).toFixed(1)} %`]);
      record({ bench: 'streaming-restore', figure: `full save of the sample database (${SAMPLE_MIB} MiB), ${compression}, encrypted`, value: e, unit: 's', ceiling: { name: 'the same save unencrypted', value: p }, lowerIsBetter: true, goal: '≥ 0.91 (≤ 10 % slower)' });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n== encryption's cost on a full save of the sample database (${SAMPLE_MIB} MiB: encode, append runs of 16 to a volume file, fdatasync every 64 MiB and at the close; median of 3, alternating)`);
  console.log(table(['compression', 'unencrypted', 'aes-256-gcm', 'slower by'], rows));
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const parts = (process.env.DELTAFLOW_BENCH_PARTS ?? 'restores,codec,encryption').split(',');
  if (parts.includes('restores')) await restores();
  const sample = sampleDatabase(SAMPLE_MIB);
  if (parts.includes('codec')) await codecOnSample(sample);
  if (parts.includes('encryption')) await encryptionCost(sample);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
