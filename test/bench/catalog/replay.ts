/**
 * Catalog apply benchmark: a realistic history (apps/catalog/src/testing/history.ts: saves, DSIMs,
 * merges, restores, the DLOG, client files, runs, volumes; N events over dsf.events, dsf.dlog and
 * sov.events, 4 partitions each) is produced to the embedded broker (its own process), then:
 *
 * - live apply: the catalog service starts on the backlog (in-process, its own schema) and is timed
 *   until every partition's last handled record is checkpointed;
 * - replay: replay() rebuilds the read models from offset 0 into a fresh schema (wall time, the
 *   reader's group join included);
 * - ceilings, same run, same PostgreSQL, through `pg` with no Kafka, in the same batches and the same
 *   way (EXECUTEs of prepared statements, one round trip and one transaction per batch):
 *   (a) the statements the projections make one event at a time (the apply before the folds:
 *   a statement or more per event), captured once; (b) the writes the folded apply sends
 *   (row-fold.ts: a read and a multi-row write per table and batch), captured from a run of it;
 * - the rows ceiling: the final rows of every read model inserted through `pg` in one statement
 *   per table (the least write work that ends in the same state);
 * - for reference, the previous apply (one transaction per record and projection) on a slice.
 *
 * Checks the live, replayed and ceiling digests are equal. Prints events/s and the ratios.
 * Run: node infra/launcher/bin/run-ts.js test/bench/catalog/replay.ts [N=50000]
 * BENCH_PG_FSYNC=0 turns PostgreSQL's fsync off (default on, as `npm start`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeMessage, Topic } from '@deltaflow/contracts';
import { startEmbeddedPostgres } from '@deltaflow/embedded-postgres';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { startCatalog } from '../../../apps/catalog/src/app';
import type { ApplyContext, CatalogEvent, Queryable } from '../../../apps/catalog/src/projection';
import { applyRecord, applyCatalogRecords, openCatalogDatabase, PROJECTIONS, stateDigest, type CatalogRecord } from '../../../apps/catalog/src/read-models';
import { applyTotals } from '../../../apps/catalog/src/apply-batch';
import { chainHook } from '../../../apps/catalog/src/audit/hash-chain';
import type { DataSource } from 'typeorm';
import { replay } from '../../../apps/catalog/src/replay';
import { literal } from '../../../apps/catalog/src/statement-batch';
import { catalogHistory } from '../../../apps/catalog/src/testing/history';
import { record } from '../report';
import { secondsSince, startBroker } from '../streaming/support';

const N = Number(process.argv[2] ?? 50_000);
const PARTITIONS = 4;
const TOPICS = [Topic.dsfEvents, Topic.dlog, Topic.sovEvents];
const BATCH = 2_000; // records per transaction in the pg ceiling (the live catalog's fetched batches are of this order)

interface Placed {
  event: CatalogEvent;
  topic: string;
  partition: number;
  offset: number;
}

function partitionOf(key: string | null): number {
  let h = 0;
  for (const c of key ?? '') h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % PARTITIONS;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-bench-'));
  fs.chmodSync(root, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), fsync: process.env.BENCH_PG_FSYNC !== '0' });
  const broker = await startBroker(path.join(root, 'kafka'));
  try {
    const events = catalogHistory({ events: N });
    // place every event: its topic, a partition by key (explicit, so the offsets are known), its offset
    const next = new Map<string, number>();
    const placed: Placed[] = events.map((event) => {
      const r = encodeMessage(event);
      const partition = partitionOf(r.key);
      const k = `${r.topic}:${partition}`;
      const offset = next.get(k) ?? 0;
      next.set(k, offset + 1);
      return { event, topic: r.topic, partition, offset };
    });
    const kafka = new Kafka({ clientId: 'catalog-bench', brokers: broker.brokers, logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < placed.length; i += 5_000) {
      const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string>; partition: number }>>();
      for (const p of placed.slice(i, i + 5_000)) {
        const r = encodeMessage(p.event);
        byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), { key: r.key, value: r.value as Buffer, headers: r.headers as Record<string, string>, partition: p.partition }]);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    const produceS = secondsSince(t0);
    await producer.disconnect();
    const counts = Object.fromEntries(TOPICS.map((t) => [t, placed.filter((p) => p.topic === t).length]));
    console.log(`history: ${placed.length} events ${JSON.stringify(counts)} produced in ${produceS.toFixed(1)} s`);

    // the last record each projection handles per partition: when the live catalog is done
    const expected = new Map<string, number>();
    for (const p of placed) for (const pr of PROJECTIONS) if (pr.canHandle(p.event)) expected.set(`${pr.name}|${p.topic}|${p.partition}`, p.offset + 1);

    // live apply
    const concurrency = Number(process.env.CATALOG_BENCH_CONCURRENCY ?? 1);
    const catalog = await startCatalog({ brokers: broker.brokers, databaseUrl: pg.url, httpPort: 0, schema: 'catalog_live', dataDir: path.join(root, 'data'), partitionsConcurrently: concurrency });
    t0 = process.hrtime.bigint();
    const db = new Client({ connectionString: pg.url });
    await db.connect();
    for (;;) {
      const rows = (await db.query<{ projection: string; topic: string; partition: number; next_offset: string }>('SELECT * FROM catalog_live.projection_checkpoint')).rows;
      const got = new Map(rows.map((r) => [`${r.projection}|${r.topic}|${r.partition}`, Number(r.next_offset)]));
      if ([...expected].every(([k, v]) => got.get(k) === v)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const liveS = secondsSince(t0);
    const perEvent = (t: typeof applyTotals) =>
      `${t.batches} batches of ${Math.round(t.records / Math.max(1, t.batches))} records, ${(t.statements / Math.max(1, t.records)).toFixed(3)} statements/event, ${(t.roundTrips / Math.max(1, t.records)).toFixed(3)} round trips/event`;
    const liveTotals = { ...applyTotals };
    console.log(`live apply: ${placed.length} events in ${liveS.toFixed(1)} s (${perEvent(liveTotals)})`);
    Object.assign(applyTotals, { batches: 0, records: 0, statements: 0, roundTrips: 0 });
    await catalog.stop();
    const liveDs = await openCatalogDatabase(pg.url, 'catalog_live');
    const live = await stateDigest(liveDs);
    await liveDs.destroy();

    // replay
    t0 = process.hrtime.bigint();
    const rep = await replay({ brokers: broker.brokers, databaseUrl: pg.url, schema: 'catalog_replay' });
    const replayS = secondsSince(t0);
    console.log(`replay: ${rep.records} events in ${replayS.toFixed(1)} s (${perEvent(applyTotals)})`);

    // ceiling (a): the per-event statements through pg, same batches, no Kafka
    const ceiling = await pgCeiling(pg.url, placed);
    console.log(`ceiling (a): ${ceiling.statements} statements, ${(ceiling.statements / placed.length).toFixed(3)} statements/event (projections only)`);
    // ceiling (b): the folded apply's writes through pg
    const folded = await foldedCeiling(pg.url, placed);
    console.log(`ceiling (b): ${folded.statements} statements, ${(folded.statements / placed.length).toFixed(3)} statements/event (projections, chain and checkpoints)`);
    // rows ceiling: the final rows, one INSERT per table
    const rowsS = await rowsCeiling(pg.url);
    // the previous apply, one transaction per record and projection, on a slice
    const slice = placed.slice(0, Math.min(2_000, placed.length));
    const oldDs = await openCatalogDatabase(pg.url, 'catalog_old');
    t0 = process.hrtime.bigint();
    for (const p of slice) await applyRecord(oldDs, p.event, { topic: p.topic, partition: p.partition, offset: String(p.offset) });
    const oldS = secondsSince(t0);
    await oldDs.destroy();
    await db.end();

    const n = placed.length;
    const rate = (s: number) => n / s;
    const same = live.digest === rep.digest && rep.digest === ceiling.digest && ceiling.digest === folded.digest;
    console.log(
      `\ndigests: live ${live.digest.slice(0, 16)} replay ${rep.digest.slice(0, 16)} pg ceiling (a) ${ceiling.digest.slice(0, 16)} (b) ${folded.digest.slice(0, 16)} ${same ? '(equal)' : 'DIFFER'}`,
    );
    console.log(`rows: ${JSON.stringify(live.rows)}`);
    const table: Array<[string, number]> = [
      ['live apply (catalog service, backlog)', rate(liveS)],
      ['replay (replay(), from offset 0, group join included)', rate(replayS)],
      ['ceiling (a): per-event statements through pg, no Kafka', rate(ceiling.seconds)],
      ['ceiling (b): the folded apply\'s writes through pg, no Kafka', rate(folded.seconds)],
      ['rows ceiling: final rows, one INSERT per table', rate(rowsS)],
      [`previous apply (tx per record and projection, first ${slice.length})`, slice.length / oldS],
    ];
    for (const [name, v] of table) console.log(`${name.padEnd(70)} ${Math.round(v).toString().padStart(8)} events/s`);
    console.log(`live/ceiling(a) ${(rate(liveS) / rate(ceiling.seconds)).toFixed(2)}  replay/ceiling(a) ${(rate(replayS) / rate(ceiling.seconds)).toFixed(2)}  live/ceiling(b) ${(rate(liveS) / rate(folded.seconds)).toFixed(2)}  replay/ceiling(b) ${(rate(replayS) / rate(folded.seconds)).toFixed(2)}  live/rows ${(rate(liveS) / rate(rowsS)).toFixed(2)}  speed-up over the previous apply ${(rate(replayS) / (slice.length / oldS)).toFixed(0)}x`);
    const goal = '>= 20000 events/s';
    record({ bench: 'catalog', figure: `live apply, ${n} events`, value: rate(liveS), unit: 'events/s', ceiling: { name: 'pg per-event statements', value: rate(ceiling.seconds) }, goal });
    record({ bench: 'catalog', figure: `replay, ${n} events`, value: rate(replayS), unit: 'events/s', ceiling: { name: 'pg per-event statements', value: rate(ceiling.seconds) }, goal });
    record({ bench: 'catalog', figure: `live apply vs folded writes`, value: rate(liveS), unit: 'events/s', ceiling: { name: 'pg folded writes', value: rate(folded.seconds) } });
    record({ bench: 'catalog', figure: `replay vs final rows`, value: rate(replayS), unit: 'events/s', ceiling: { name: 'pg final rows', value: rate(rowsS) } });
    if (!same) throw new Error('the digests differ');
  } finally {
    await broker.stop();
    await pg.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Captures the projections' statements per batch (a partition's records in order), then runs them through pg. */
async function pgCeiling(url: string, placed: Placed[]): Promise<{ seconds: number; digest: string; statements: number }> {
  let statements = 0;
  const ds = await openCatalogDatabase(url, 'ceiling_pg');
  await ds.destroy();
  // the projections' writes, captured by running them against the live copy of the state would
  // need reads: the only read left (the DLOG fold's first read per batch) is answered from memory
  const texts: string[] = [];
  const prepares: string[] = []; // sent alone, before (as StatementBatch does)
  const names = new Map<string, string>();
  const dlog = new Map<number, unknown>();
  const byPartition = new Map<string, Placed[]>();
  for (const p of placed) byPartition.set(`${p.topic}:${p.partition}`, [...(byPartition.get(`${p.topic}:${p.partition}`) ?? []), p]);
  for (const [, list] of byPartition) {
    for (let i = 0; i < list.length; i += BATCH) {
      const out: string[] = [];
      const rec: Queryable = {
        query: async (sql: string, params: readonly unknown[] = []) => {
          if (/^\s*SELECT/i.test(sql)) return dlog.has(params[0] as number) ? [{ state: dlog.get(params[0] as number) }] : [];
          let name = names.get(sql);
          if (!name) {
            name = `ceil_${names.size + 1}`;
            names.set(sql, name);
            prepares.push(`PREPARE ${name} AS ${sql}`);
          }
          if (/INSERT INTO catalog_dlog/.test(sql)) dlog.set(params[0] as number, JSON.parse(params[1] as string));
          out.push(`EXECUTE ${name}(${params.map(literal).join(', ')})`);
          return [];
        },
      };
      const ctx: ApplyContext = { memo: new Map(), atEnd: new Map() };
      for (const p of list.slice(i, i + BATCH)) for (const pr of PROJECTIONS) if (pr.canHandle(p.event)) await pr.apply(rec, p.event, ctx);
      for (const write of ctx.atEnd.values()) await write(rec);
      statements += out.length;
      texts.push(out.join(';\n'));
    }
  }
  const c = new Client({ connectionString: url, options: '-c search_path=ceiling_pg' });
  await c.connect();
  const t0 = process.hrtime.bigint();
  for (const p of prepares) await c.query(p);
  for (const t of texts) await c.query(`BEGIN;\n${t};\nCOMMIT`);
  const seconds = secondsSince(t0);
  await c.end();
  const check = await openCatalogDatabase(url, 'ceiling_pg');
  const { digest } = await stateDigest(check);
  await check.destroy();
  return { seconds, digest, statements };
}

/**
 * Captures what the folded apply sends (applyCatalogRecords with the hash chain, the live catalog's
 * batches of BATCH records per partition) on a scratch schema: its writes (a parameterised one with
 * its parameters written in) and its prepared statements, not its reads; then runs those writes
 * through pg on a fresh schema, timed.
 */
async function foldedCeiling(url: string, placed: Placed[]): Promise<{ seconds: number; digest: string; statements: number }> {
  const scratch = await openCatalogDatabase(url, 'ceiling_capture');
  const prepares = new Map<string, string>();
  const texts: string[] = [];
  let statements = 0;
  let current: string[] = [];
  // one proxy per pooled connection (the statement batch keeps its prepared statements per connection object)
  const proxies = new WeakMap<object, unknown>();
  const recording = {
    createQueryRunner: () => {
      const qr = scratch.createQueryRunner();
      return {
        connect: async () => {
          const client = (await qr.connect()) as { query: (...a: unknown[]) => Promise<unknown> };
          if (proxies.has(client)) return proxies.get(client);
          const proxy = new Proxy(client, {
            get(target, prop, receiver) {
              if (prop !== 'query') return Reflect.get(target, prop, receiver);
              return (text: string, params?: unknown[]) => {
                const t = String(text);
                const prep = /^PREPARE (\S+) AS /.exec(t);
                if (prep) prepares.set(prep[1], t.replace(/^PREPARE deltaflow_catalog_/, 'PREPARE ceil_b_'));
                else if (/^\s*EXECUTE /.test(t)) {
                  current.push(t.replace(/EXECUTE deltaflow_catalog_/g, 'EXECUTE ceil_b_'));
                  statements += t.split(';\nEXECUTE ').length;
                } else if (t === 'COMMIT') {
                  texts.push(current.join(';\n'));
                  current = [];
                } else if (t === 'BEGIN') current = [];
                else if (!/^\s*SELECT\b/i.test(t)) current.push(params?.length ? t.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1])) : t); // e.g. a delete whose rows are read (WITH ... RETURNING)
                return target.query(text, params);
              };
            },
          });
          proxies.set(client, proxy);
          return proxy;
        },
        release: () => qr.release(),
      };
    },
  } as unknown as DataSource;
  const byPartition = new Map<string, CatalogRecord[]>();
  for (const p of placed) {
    const k = `${p.topic}:${p.partition}`;
    const list = byPartition.get(k) ?? [];
    list.push({ event: p.event, at: { topic: p.topic, partition: p.partition, offset: String(p.offset) }, value: encodeMessage(p.event).value as Buffer });
    byPartition.set(k, list);
  }
  for (const list of byPartition.values()) for (let i = 0; i < list.length; i += BATCH) await applyCatalogRecords(recording, list.slice(i, i + BATCH), chainHook);
  await scratch.destroy();
  const ds = await openCatalogDatabase(url, 'ceiling_folded');
  await ds.destroy();
  const c = new Client({ connectionString: url, options: '-c search_path=ceiling_folded' });
  await c.connect();
  const t0 = process.hrtime.bigint();
  for (const p of prepares.values()) await c.query(p);
  for (const t of texts) await c.query(`BEGIN;\n${t.split(';\n').filter(Boolean).join(';\n')};\nCOMMIT`);
  const seconds = secondsSince(t0);
  await c.end();
  const check = await openCatalogDatabase(url, 'ceiling_folded');
  const { digest } = await stateDigest(check);
  await check.destroy();
  return { seconds, digest, statements };
}

/** The final rows (from the live schema) inserted into a fresh schema, one statement per table. */
async function rowsCeiling(url: string): Promise<number> {
  const ds = await openCatalogDatabase(url, 'ceiling_rows');
  await ds.destroy();
  const c = new Client({ connectionString: url });
  await c.connect();
  const tables = PROJECTIONS.flatMap((p) => p.tables.map((t) => t.name));
  const data: string[] = [];
  for (const t of tables) data.push((await c.query<{ j: string }>(`SELECT coalesce(json_agg(x), '[]')::text AS j FROM catalog_live.${t} x`)).rows[0].j);
  const t0 = process.hrtime.bigint();
  await c.query('BEGIN');
  for (const [i, t] of tables.entries()) await c.query(`INSERT INTO ceiling_rows.${t} SELECT * FROM json_populate_recordset(NULL::ceiling_rows.${t}, $1)`, [data[i]]);
  await c.query('COMMIT');
  const s = secondsSince(t0);
  await c.end();
  return s;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
