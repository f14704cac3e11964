/**
 * Streaming volumes: catalog rebuild from trailers vs a full verifying scan, for volumes of
 * several sizes, each next to a raw sequential read and `cp` of the same volume file in the same
 * run; then the per-superblock codec on database-like blocks (compression ratio, MB/s of encode and
 * decode, the cost of AES-256-GCM) next to a raw read of the same bytes. Prints figures; asserts
 * nothing.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/streaming/scan.ts
 *
 * DELTAFLOW_BENCH_SCAN_MIB: volume sizes (default 256,1024,4096); DELTAFLOW_BENCH_CODEC_MIB: codec
 * sample (default 64); DELTAFLOW_BENCH_DIR: where volumes go (default the OS temp dir). Volumes
 * hold eight client files interleaved in runs of 8 superblocks of 256 KiB, no codec (the payload
 * CRC is carried, so writing costs no CRC); reads come from the page cache when it holds the file.
 */
import { record } from '../report';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { ClientFileSession, codecSpec, FileDevice, HEADER_LENGTH, MAX_SUPERBLOCK_PAYLOAD, OpenRecord, scanStreamFile, SuperblockCodec, VolumeWriter } from '@deltaflow/tape';
import { dbBlocks } from '../../../libs/tape/src/spec-support';

const SIZES = (process.env.DELTAFLOW_BENCH_SCAN_MIB ?? '256,1024,4096').split(',').map(Number);
const CODEC_MIB = Number(process.env.DELTAFLOW_BENCH_CODEC_MIB ?? 64);
const MiB = 1 << 20;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const rate = (bytes: number, millis: number) => `${((bytes / MiB) / (millis / 1000)).toFixed(0)} MiB/s`;

function rawRead(file: string): number {
  const t0 = process.hrtime.bigint();
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    pos += n;
  }
  fs.closeSync(fd);
  return ms(t0);
}

function cp(file: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('cp', [file, '/dev/null']);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
  return ms(t0);
}

async function volumes(root: string): Promise<void> {
  console.log('\n== catalog rebuild: trailer vs full scan (8 client files, runs of 8 x 256 KiB)');
  console.log('volume     | write      | trailer scan        | full scan                 | raw read | cp      | full/raw | trailer/raw');
  for (const mib of SIZES) {
    const dir = fs.mkdtempSync(path.join(root, `vol${mib}-`));
    const dev = new FileDevice({ dir, capacity: (mib + 64) * MiB });
    const payload = randomBytes(MAX_SUPERBLOCK_PAYLOAD);
    const crc = crc32c(payload);
    const t0 = process.hrtime.bigint();
    const w = await VolumeWriter.label(dev, { volser: 'B1', stream: 'BENCH', streamFile: 'SF', sequence: 1, createdAt: Date.now(), tag: randomBytes(8).toString('hex') });
    const sessions = Array.from({ length: 8 }, (_, i) => {
      const open: OpenRecord = { incarnation: randomUUID(), clientFile: `bench.${i}`, stream: 'BENCH', openedAt: Date.now(), codec: codecSpec({}) };
      return ClientFileSession.start(open);
    });
    const perFile = Math.floor((mib * MiB) / (MAX_SUPERBLOCK_PAYLOAD + HEADER_LENGTH) / 8);
    for (let seq = 0; seq < perFile; seq += 8) {
      for (const s of sessions) {
        const run = [];
        for (let k = seq; k < Math.min(seq + 8, perFile); k++) run.push(await s.encode({ seq: k, last: k === perFile - 1, payload, crc }));
        await w.appendRun(s.open, run);
      }
      if (seq % 256 === 0) await w.sync();
    }
    for (const s of sessions) await w.writeClose(s.open, s.closeRecord({ closedAt: Date.now() }));
    await w.finish({ finishedAt: Date.now() });
    await dev.unmount();
    const writeMs = ms(t0);
    const file = dev.pathOf('B1');
    const size = fs.statSync(file).size;
    rawRead(file); // warm the page cache alike for every reader
    let t = process.hrtime.bigint();
    const fast = await scanStreamFile(dev);
    const fastMs = ms(t);
    t = process.hrtime.bigint();
    const full = await scanStreamFile(dev, undefined, { mode: 'full' });
    const fullMs = ms(t);
    const rawMs = rawRead(file);
    const cpMs = cp(file);
    if (fast.digest !== full.digest) throw new Error('trailer and full scan differ');
    const runs = fast.volumes[0].runs.length;
    console.log(
      `${String(mib).padStart(5)} MiB | ${writeMs.toFixed(0).padStart(6)} ms | ${fastMs.toFixed(1).padStart(7)} ms (${(fast.volumes[0].read / 1024).toFixed(0)} KiB read) | ${fullMs.toFixed(0).padStart(6)} ms ${rate(size, fullMs).padStart(11)} | ${rawMs.toFixed(0).padStart(5)} ms | ${cpMs.toFixed(0).padStart(4)} ms | ${(fullMs / rawMs).toFixed(1).padStart(6)}x | 1/${(rawMs / fastMs).toFixed(0)}  (${runs} runs)`,
    );
    record({ bench: 'streaming', figure: `catalog rebuild from the trailer, ${mib} MiB volume`, value: fastMs, unit: 'ms', ceiling: { name: 'raw read', value: rawMs }, lowerIsBetter: true });
    record({ bench: 'streaming', figure: `catalog rebuild by full scan, ${mib} MiB volume`, value: fullMs, unit: 'ms', ceiling: { name: 'raw read', value: rawMs }, lowerIsBetter: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function codecs(root: string): Promise<void> {
  const data = dbBlocks(CODEC_MIB * MiB, 42);
  const file = path.join(root, 'codec.raw');
  fs.writeFileSync(file, data);
  rawRead(file);
  const rawMs = rawRead(file);
  console.log(`\n== per-superblock codec on ${CODEC_MIB} MiB of database-like 8 KiB pages (raw read of the same bytes: ${rawMs.toFixed(0)} ms, ${rate(data.length, rawMs)})`);
  console.log('codec                 | ratio  | encode            | decode            | encode/raw read | decode/raw read');
  const key = randomBytes(32);
  const variants: Array<[string, Parameters<typeof codecSpec>[0]]> = [
    ['none', {}],
    ['none + aes-256-gcm', { operatorKey: key }],
    ['zstd 1', { compression: 'zstd', level: 1 }],
    ['zstd 3', { compression: 'zstd', level: 3 }],
    ['zstd 3 + aes-256-gcm', { compression: 'zstd', level: 3, operatorKey: key }],
    ['gzip 6', { compression: 'gzip', level: 6 }],
    ['brotli 4', { compression: 'brotli', level: 4 }],
  ];
  for (const [label, opts] of variants) {
    const open: OpenRecord = { incarnation: randomUUID(), clientFile: 'codec', stream: 'BENCH', openedAt: 1, codec: codecSpec({ ...opts, dataKey: opts.operatorKey ? randomBytes(32) : undefined }) };
    const codec = SuperblockCodec.open(open, key);
    const sbs: Array<{ payload: Buffer; crc: number }> = [];
    for (let off = 0; off < data.length; off += MAX_SUPERBLOCK_PAYLOAD) {
      const payload = data.subarray(off, off + MAX_SUPERBLOCK_PAYLOAD);
      sbs.push({ payload, crc: crc32c(payload) });
    }
    let t = process.hrtime.bigint();
    const encoded = [];
    for (let i = 0; i < sbs.length; i++) encoded.push(await codec.encode({ seq: i, last: i === sbs.length - 1, ...sbs[i] }));
    const encMs = ms(t);
    const stored = encoded.reduce((n, e) => n + e.body.length, 0);
    t = process.hrtime.bigint();
    for (const e of encoded) {
      const h = { kind: 'S' as const, flags: e.flags, tag: '0'.repeat(16), position: 0, bodyLength: e.body.length, bodyCrc: e.bodyCrc, incarnation: open.incarnation, seq: e.seq, rawLength: e.rawLength, contentCrc: e.contentCrc };
      await codec.decode(h, e.body);
    }
    const decMs = ms(t);
    record({ bench: 'streaming', figure: `codec ${label.trim()} encode (ratio ${(data.length / stored).toFixed(2)})`, value: data.length / MiB / (encMs / 1000), unit: 'MiB/s', ceiling: { name: 'raw read', value: data.length / MiB / (rawMs / 1000) } });
    console.log(
      `${label.padEnd(21)} | ${(data.length / stored).toFixed(2).padStart(5)}x | ${encMs.toFixed(0).padStart(5)} ms ${rate(data.length, encMs).padStart(10)} | ${decMs.toFixed(0).padStart(5)} ms ${rate(data.length, decMs).padStart(10)} | ${(encMs / rawMs).toFixed(1).padStart(14)}x | ${(decMs / rawMs).toFixed(1).padStart(14)}x`,
    );
  }
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-scan-'));
  try {
    console.log(`node ${process.version}, ${os.cpus().length} cores`);
    await volumes(root);
    await codecs(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
