/**
 * Drive utilisation (seed: one tape drive kept streaming by several backups). One device at rate R
 * (a file device throttled to R), eight client file writers each at R/4 (twice what it can take):
 * the share of the time data waited for the device that the device was writing, for runs of
 * K = 1, 4, 16, 64 superblocks, next to the device's own rate measured in the same run (a raw
 * VolumeWriter on the same device). One writer alone at R/4 keeps it about 25 % busy.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/streaming/utilisation.ts
 *
 * DELTAFLOW_BENCH_DEVICE_MBPS: R in MB/s (default 8); DELTAFLOW_BENCH_UTIL_SECONDS: seconds per case
 * (default 20); DELTAFLOW_BENCH_DIR: where volumes go. The device has no buffer to speak of (20 ms
 * of burst): busy time is bytes written ÷ R, and time it spends syncing or waiting for the next run
 * is lost, as a tape drive that stops loses it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SovClient, type ClientFileWriter } from '@deltaflow/service-kit';
import { FileDevice, VolumeWriter, ClientFileSession, codecSpec } from '@deltaflow/tape';
import { crc32c } from '@deltaflow/checksum';
import { randomUUID } from 'node:crypto';
import { multiplexerDefaults, startStreamMultiplexer, type RunningStreamMultiplexer } from '../../../apps/stream-multiplexer/src/app';
import { record } from '../report';
import { MiB, secondsSince, startBroker, table } from './support';

const R = Number(process.env.DELTAFLOW_BENCH_DEVICE_MBPS ?? 8) * 1e6;
const SECONDS = Number(process.env.DELTAFLOW_BENCH_UTIL_SECONDS ?? 20);
const BURST = 0.02;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The device alone: a VolumeWriter appending runs of 16 × 256 KiB to a FileDevice throttled to R. */
async function rawDevice(dir: string, bytes: number): Promise<number> {
  const dev = new FileDevice({ dir, capacity: 64 * 1024 * MiB, rateBytesPerSec: R, burstSeconds: BURST });
  const w = await VolumeWriter.label(dev, { volser: 'RAW001', stream: 'RAW', streamFile: 'RAW', sequence: 1, createdAt: Date.now(), tag: randomBytes(8).toString('hex') });
  const open = { incarnation: randomUUID(), clientFile: 'raw', stream: 'RAW', openedAt: Date.now(), codec: codecSpec({}) };
  const s = ClientFileSession.start(open);
  const payload = randomBytes(256 * 1024);
  const crc = crc32c(payload);
  const t0 = process.hrtime.bigint();
  let seq = 0;
  for (let done = 0; done < bytes; done += 16 * payload.length) {
    const run = [];
    for (let i = 0; i < 16; i++) run.push(await s.encode({ seq: seq++, last: false, payload, crc }));
    await w.appendRun(open, run);
  }
  await w.sync();
  const secs = secondsSince(t0);
  await dev.unmount();
  return bytes / secs;
}

/** `n` writers on `stream`, each at `rate` bytes/s, for `seconds`; then given up (the backlog is not drained). */
async function paced(sov: SovClient, stream: string, n: number, rate: number, seconds: number, onStart: () => void): Promise<void> {
  const piece = 64 * 1024;
  const writers: ClientFileWriter[] = await Promise.all(Array.from({ length: n }, (_, i) => sov.openClientFile({ stream, clientFile: `w${i}` })));
  await Promise.all(writers.map((w) => w.opened(60_000)));
  const data = randomBytes(piece);
  onStart();
  const t0 = performance.now();
  await Promise.all(
    writers.map(async (w) => {
      for (let sent = 0; performance.now() - t0 < seconds * 1000; sent += piece) {
        const due = t0 + (sent / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        await w.write(data);
      }
    }),
  );
  await Promise.all(writers.map((w) => w.abort('benchmark over')));
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-util-'));
  const rows: string[][] = [];
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  let mux: RunningStreamMultiplexer | undefined;
  let sov: SovClient | undefined;
  try {
    fs.mkdirSync(path.join(root, 'raw'), { recursive: true });
    const ceiling = await rawDevice(path.join(root, 'raw'), Math.round(R * 5));
    broker = await startBroker(path.join(root, 'kafka'));
    mux = await startStreamMultiplexer(
      multiplexerDefaults({
        brokers: broker.brokers,
        volumeDir: path.join(root, 'tapes'),
        log: () => undefined,
        runLatencyMs: 1000,
        memoryBytes: 512 * MiB,
        deviceFactory: (spec) => new FileDevice({ name: `${spec.stream}/${spec.device}`, dir: spec.dir, capacity: spec.capacity, rateBytesPerSec: spec.rateBytesPerSec, burstSeconds: BURST }),
      }),
    );
    sov = await SovClient.connect({ brokers: broker.brokers, clientId: 'bench-util' });
    const service = mux.service;
    const measure = async (stream: string, k: number, writers: number) => {
      await sov!.command({ type: 'StreamDefine', stream, minDevices: 1, maxDevices: 1, runSuperblocks: k, deviceRateBytesPerSec: R, volumeCapacity: 64 * 1024 * MiB });
      while (!service.deviceRuntimes().some((d) => d.stream === stream)) await sleep(50);
      const dev = () => service.deviceRuntimes().find((d) => d.stream === stream)!;
      const run = paced(sov!, stream, writers, R / 4, SECONDS, () => undefined);
      // the window: after a warm-up of 3 s (the throttle's credit, the first runs), until the writers stop
      await sleep(3000);
      const start = { u: dev().utilisation(), t: performance.now() };
      await sleep((SECONDS - 3.5) * 1000);
      const end = { u: dev().utilisation(), t: performance.now() };
      await run;
      const wall = (end.t - start.t) / 1000;
      const bytes = end.u.bytesWritten - start.u.bytesWritten;
      const busy = bytes / R;
      const waiting = (end.u.waitingMs - start.u.waitingMs) / 1000;
      const inOps = (end.u.busyMs - start.u.busyMs) / 1000;
      return { rate: bytes / wall, busyShare: busy / wall, utilisation: busy / waiting, inOps: inOps / waiting, runs: end.u.runs - start.u.runs, wall };
    };

    for (const k of [1, 4, 16, 64]) {
      const m = await measure(`U${k}`, k, 8);
      rows.push([`K=${k}`, '8 writers at R/4', `${(m.rate / 1e6).toFixed(2)}`, `${(ceiling / 1e6).toFixed(2)}`, `${(m.utilisation * 100).toFixed(1)} %`, `${(m.inOps * 100).toFixed(1)} %`, `${(m.busyShare * 100).toFixed(1)} %`, `${m.runs}`]);
      record({ bench: 'streaming', figure: `device utilisation while data waits, K=${k}, 8 writers at R/4`, value: m.utilisation * 100, unit: '%', ceiling: { name: 'device always writing', value: 100 }, goal: '≥ 95 %' });
      record({ bench: 'streaming', figure: `device write rate, K=${k}, 8 writers at R/4`, value: m.rate / 1e6, unit: 'MB/s', ceiling: { name: 'raw device at R', value: ceiling / 1e6 } });
    }
    const one = await measure('ONE', 16, 1);
    rows.push(['K=16', '1 writer at R/4', `${(one.rate / 1e6).toFixed(2)}`, `${(ceiling / 1e6).toFixed(2)}`, `${(one.utilisation * 100).toFixed(1)} %`, `${(one.inOps * 100).toFixed(1)} %`, `${(one.busyShare * 100).toFixed(1)} %`, `${one.runs}`]);
    record({ bench: 'streaming', figure: 'device busy share of the time, 1 writer at R/4, K=16', value: one.busyShare * 100, unit: '%', ceiling: { name: 'device always writing', value: 100 }, goal: '≈ 25 %' });
  } finally {
    await sov?.close();
    await mux?.stop();
    await broker?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n== drive utilisation: one device at R = ${R / 1e6} MB/s, ${SECONDS} s per case (${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  console.log(table(['runs', 'writers', 'device MB/s', 'raw device MB/s', 'busy ÷ time data waited', '(time in device calls ÷ waited)', 'busy ÷ wall time', 'runs written'], rows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
