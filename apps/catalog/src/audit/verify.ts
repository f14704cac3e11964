/**
 * `dsf catalog verify` (GET /verify): the live read models against a replay from offset 0.
 *
 * The live state is read in one REPEATABLE READ snapshot (rows, checkpoints and hash chain): the
 * replay folds every topic partition up to the live position of that snapshot (per partition, the
 * furthest checkpoint of any projection: a batch moves them together), so both sides cover the
 * same records however far the live catalog moves meanwhile. Reports both digests, the first
 * difference (table, key, column, both values) and the hash chain check (hash-chain.ts).
 */
import { Topic } from '@deltaflow/contracts';
import { partitionKey, type PartitionKey } from '@deltaflow/service-kit';
import type { DataSource, EntityManager } from 'typeorm';
import { PROJECTIONS, stateDigest } from '../read-models';
import { foldInto } from './fold';
import { checkChain, type ChainCheck } from './hash-chain';

export interface Difference {
  table: string;
  key: Record<string, unknown>;
  /** the differing column; null: the row is in one side only */
  column: string | null;
  live: unknown;
  replay: unknown;
}

export interface VerifyResult {
  ok: boolean;
  live: { digest: string; rows: Record<string, number> };
  replay: { digest: string; rows: Record<string, number>; records: number };
  /** per topic, per partition: the next offset both sides cover */
  positions: Record<string, Record<string, number>>;
  difference: Difference | null;
  chain: ChainCheck;
}

type Row = Record<string, unknown>;

async function tableRows(m: Pick<EntityManager, 'query'>): Promise<Map<string, Row[]>> {
  const out = new Map<string, Row[]>();
  for (const p of PROJECTIONS)
    for (const t of p.tables) out.set(t.name, ((await m.query(`SELECT row_to_json(x)::text AS j FROM ${t.name} x ORDER BY ${t.key}`)) as Array<{ j: string }>).map((r) => JSON.parse(r.j) as Row));
  return out;
}

/** The first difference between two states, tables in digest order, rows in key order. */
export function firstDifference(live: Map<string, Row[]>, replayed: Map<string, Row[]>): Difference | null {
  for (const p of PROJECTIONS) {
    for (const t of p.tables) {
      const keyCols = t.key.split(',').map((k) => k.trim());
      const a = live.get(t.name) ?? [];
      const b = replayed.get(t.name) ?? [];
      const keyOf = (r: Row) => Object.fromEntries(keyCols.map((k) => [k, r[k]]));
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const x = a[i];
        const y = b[i];
        if (x === undefined || y === undefined) return { table: t.name, key: keyOf((x ?? y)!), column: null, live: x ?? null, replay: y ?? null };
        if (JSON.stringify(keyOf(x)) !== JSON.stringify(keyOf(y))) {
          // a row only on one side: the one with the smaller key (both ordered by key in PostgreSQL)
          return { table: t.name, key: keyOf(x), column: null, live: x, replay: null };
        }
        for (const c of new Set([...Object.keys(x), ...Object.keys(y)]))
          if (JSON.stringify(x[c]) !== JSON.stringify(y[c])) return { table: t.name, key: keyOf(x), column: c, live: x[c] ?? null, replay: y[c] ?? null };
      }
    }
  }
  return null;
}

/** Verifies the live catalog (`live`: its data source) against a replay into a scratch schema. */
export async function verifyCatalog(live: DataSource, brokers: readonly string[], databaseUrl: string): Promise<VerifyResult> {
  const qr = live.createQueryRunner();
  await qr.connect();
  try {
    await qr.startTransaction('REPEATABLE READ');
    const m = qr.manager;
    const liveDigest = await stateDigest(m);
    const checkpoints = (await m.query('SELECT topic, partition, max(next_offset) AS next FROM projection_checkpoint GROUP BY topic, partition')) as Array<{ topic: string; partition: number; next: string }>;
    const until = new Map<PartitionKey, bigint>(checkpoints.map((c) => [partitionKey(c.topic, Number(c.partition)), BigInt(c.next)]));
    const stored = new Map<string, Array<{ offset: string; hash: string }>>();
    for (const r of (await m.query('SELECT topic, partition, "offset", hash FROM catalog_event_hash ORDER BY topic, partition, "offset"')) as Array<{ topic: string; partition: number; offset: string; hash: string }>) {
      const key = partitionKey(r.topic, Number(r.partition));
      if (BigInt(r.offset) >= (until.get(key) ?? 0n)) continue;
      const list = stored.get(key) ?? [];
      list.push({ offset: String(r.offset), hash: r.hash });
      stored.set(key, list);
    }
    const read = new Map<string, Array<{ offset: string; value: Buffer | null }>>();
    const liveRows = await tableRows(m);
    const folded = await foldInto({
      brokers,
      databaseUrl,
      steps: [{ topics: [Topic.dsfEvents, Topic.dlog, Topic.sovEvents], cut: () => ({ until }) }],
      onRead: (r) => {
        const key = partitionKey(r.at.topic, r.at.partition);
        const list = read.get(key) ?? [];
        list.push({ offset: r.at.offset, value: r.value });
        read.set(key, list);
      },
      inspect: (ds) => tableRows(ds),
    });
    const difference = folded.digest === liveDigest.digest ? null : firstDifference(liveRows, folded.inspected);
    const chain = checkChain(read, stored);
    const positions: Record<string, Record<string, number>> = {};
    for (const c of checkpoints) (positions[c.topic] ??= {})[String(c.partition)] = Number(c.next);
    return {
      ok: folded.digest === liveDigest.digest && chain.problems.length === 0,
      live: liveDigest,
      replay: { digest: folded.digest, rows: folded.rows, records: folded.records },
      positions,
      difference,
      chain,
    };
  } finally {
    if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
    await qr.release();
  }
}
