/**
 * Full save vs delta save of the same database through the real save writer (embedded broker,
 * in-process service): an offline full save of every used block, then an offline delta save
 * after 1 % of the data blocks changed. Prints both times and their ratio (goal: delta ≤ 1/20
 * of full). Size: DELTAFLOW_BENCH_DB_MIB (default 1024 = 1 GiB of DATA); changed share:
 * DELTAFLOW_BENCH_CHANGED_PCT (default 1).
 *
 *   node infra/launcher/bin/run-ts.js test/bench/save/full-vs-delta.ts
 */
import { benchGeometry } from '../geometry';
import { record } from '../report';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { BlockRange } from '@deltaflow/blocks';
import type { MessageOfType } from '@deltaflow/contracts';
import { Publisher, StandInChangeLogger, TopicCollector } from '@deltaflow/testing';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startSaveWriter } from '../../../apps/save-writer/src/app';

const MIB = Number(process.env.DELTAFLOW_BENCH_DB_MIB ?? 1024);
const PCT = Number(process.env.DELTAFLOW_BENCH_CHANGED_PCT ?? 1);
const BLOCK = 8192;
const DBID = 3;

async function main(): Promise<void> {
  const dataBlocks = Math.max(64, Math.floor((MIB * 1024 * 1024) / BLOCK));
  const geometry = benchGeometry(dataBlocks, BLOCK);
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-save-'));
  const dataDir = path.join(root, 'data');
  const db = BlockDatabase.create(path.join(dataDir, 'databases', String(DBID)), { dbid: DBID, geometry });
  let seed = 12345;
  const fill = (buf: Buffer) => {
    for (let i = 0; i < buf.length; i += 4) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      buf.writeUInt32LE(seed, i);
    }
  };
  const chunkBlocks = 128;
  const chunk = Buffer.alloc(chunkBlocks * BLOCK);
  for (let r = 1; r <= dataBlocks; r += chunkBlocks) {
    const n = Math.min(chunkBlocks, dataBlocks - r + 1);
    fill(chunk);
    db.writeBlocks('DATA', r, chunk.subarray(0, n * BLOCK));
  }
  db.flush();
  console.log(`database: ${dataBlocks} DATA blocks of ${BLOCK} B (${((dataBlocks * BLOCK) / 2 ** 20).toFixed(0)} MiB) + 2048 ASSO blocks`);

  const kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka') });
  const pub = await new Publisher(kafka.brokers).start();
  const events = await new TopicCollector(kafka.brokers, 'dsf.events').start();
  const logger = new StandInChangeLogger(events, pub).start();
  logger.geometry = geometry;
  const writer = await startSaveWriter({ brokers: kafka.brokers, dataDir, log: process.env.BENCH_VERBOSE ? (m) => console.log(new Date().toISOString(), m) : () => undefined });
  try {
    const run = async (cid: string, mode: 'full' | 'delta') => {
      await pub.publish({ type: 'SaveRequested', correlationId: cid, dbid: DBID, kind: mode, online: false, destination: { kind: 'directory', name: cid } });
      const started = await events.waitFor<MessageOfType<'SaveStarted'>>((m) => m.type === 'SaveStarted' && m.correlationId === cid, 600_000);
      const done = await events.waitFor((m) => (m.type === 'SaveCompleted' || m.type === 'SaveFailed') && m.correlationId === cid, 3_600_000);
      if (done.type !== 'SaveCompleted') throw new Error(`${cid}: ${JSON.stringify(done)}`);
      return { ms: done.occurredAt - started.occurredAt, blocks: done.blocks, bytes: done.bytes };
    };
    const full = await run('bench-full', 'full');
    // change PCT % of the data blocks (spread evenly), as the DLOG would list them
    const every = Math.max(1, Math.round(100 / PCT));
    const changed: BlockRange[] = [];
    const img = Buffer.alloc(BLOCK);
    const rw = BlockDatabase.open(path.join(dataDir, 'databases', String(DBID)));
    for (let r = 1; r <= dataBlocks; r += every) {
      fill(img);
      rw.writeBlock('DATA', r, img);
      changed.push({ area: 'DATA', from: r, to: r });
    }
    rw.close();
    logger.changed = changed;
    const delta = await run('bench-delta', 'delta');
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`full save : ${full.ms} ms, ${full.blocks} blocks, ${mib(full.bytes)} MiB (${((full.bytes / 2 ** 20) / (full.ms / 1000)).toFixed(0)} MiB/s)`);
    console.log(`delta save: ${delta.ms} ms, ${delta.blocks} blocks (${changed.length} changed = ${PCT} %), ${mib(delta.bytes)} MiB`);
    console.log(`ratio delta/full: ${(delta.ms / full.ms).toFixed(4)} (1/${(full.ms / Math.max(1, delta.ms)).toFixed(1)}; goal ≤ 1/20)`);
    record({ bench: 'save', figure: `delta save of ${PCT} % (${MIB} MiB database)`, value: delta.ms, unit: 'ms', ceiling: { name: 'full save', value: full.ms }, lowerIsBetter: true, goal: 'delta/full <= 1/20' });
  } finally {
    await writer.stop();
    logger.stop();
    await events.stop();
    await pub.stop();
    await kafka.stop();
    db.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
