/**
 * Tamper evidence: a hash chain per topic partition, computed by the catalog when it first applies
 * a record, in the same transaction as the rows (so it is recorded exactly for what was applied):
 *
 *   link(r) = sha256(link(previous) | topic | partition | offset | sha256(value of r))
 *
 * where `previous` is the partition's previous chained record (a record that never decoded was
 * dead-lettered, not applied: it is not chained) and the first link of a partition starts from
 * the empty string. Producers are several processes writing one partition: none of them knows the
 * previous record, so the chain cannot honestly be carried in the events; the catalog is the one
 * reader of every partition in order. `dsf catalog verify` re-reads the log, computes the chain
 * again and reports the first offset whose record is missing (deleted, or no longer decodable) or
 * whose content differs; since each link covers the one before, the stored chain cannot be edited
 * in the middle either without every later link changing.
 */
import { createHash } from 'node:crypto';
import { Topic } from '@deltaflow/contracts';
import type { BatchHook, CatalogRecord } from '../apply-batch';
import type { Queryable } from '../projection';

/**
 * Topics whose log start moves by design: the change logger cuts dsf.dlog below its DLOG snapshots
 * (retention). A chained record below such a partition's log start is counted as cut, and the chain
 * goes on from its stored link; on the event topics (dsf.events, sov.events: kept whole) a chained
 * record that is gone is a problem.
 */
export const CUT_BY_RETENTION: ReadonlySet<string> = new Set<string>([Topic.dlog]);

export function linkOf(previous: string, topic: string, partition: number, offset: string, value: Buffer | null | undefined): string {
  const content = createHash('sha256')
    .update(value ?? Buffer.alloc(0))
    .digest('hex');
  return createHash('sha256').update(`${previous}|${topic}|${partition}|${offset}|${content}`).digest('hex');
}

/** The live catalog's hook: chains the batch's records not chained yet (a redelivery changes nothing). */
export const chainHook: BatchHook = {
  async before(m: Queryable, records: readonly CatalogRecord[]): Promise<void> {
    const { topic, partition } = records[0].at;
    const [last] = (await m.query('SELECT "offset", hash FROM catalog_event_hash WHERE topic = $1 AND partition = $2 ORDER BY "offset" DESC LIMIT 1', [topic, partition])) as Array<{
      offset: string;
      hash: string;
    }>;
    let previous = last?.hash ?? '';
    const after = last === undefined ? -1n : BigInt(last.offset);
    const offsets: string[] = [];
    const hashes: string[] = [];
    for (const r of records) {
      if (BigInt(r.at.offset) <= after) continue;
      previous = linkOf(previous, topic, partition, r.at.offset, r.value);
      offsets.push(r.at.offset);
      hashes.push(previous);
    }
    if (offsets.length === 0) return;
    await m.query(
      `INSERT INTO catalog_event_hash (topic, partition, "offset", hash, chained_at)
       SELECT $1, $2, o, h, $5 FROM unnest($3::bigint[], $4::text[]) AS x(o, h) ON CONFLICT (topic, partition, "offset") DO NOTHING`,
      [topic, partition, offsets, hashes, Date.now()],
    );
  },
};

export interface ChainProblem {
  topic: string;
  partition: number;
  offset: number;
  problem: 'changed' | 'missing';
  detail: string;
}

export interface ChainCheck {
  /** records whose link matched the stored one */
  checked: number;
  /** records read that the catalog had not chained (applied before the chain existed, or not applied yet) */
  unchained: number;
  /** chained records below the log start of a topic that retention cuts (CUT_BY_RETENTION) */
  cut: number;
  /** the first problem per partition, ordered by topic, partition */
  problems: ChainProblem[];
}

/**
 * Checks the log against the stored chain: `read` is every decodable record read (per partition
 * in offset order, with its raw value), `stored` the stored links per partition up to where the
 * check goes. Reports per partition the first stored offset not read (missing) or whose link differs (changed).
 */
export function checkChain(read: ReadonlyMap<string, Array<{ offset: string; value: Buffer | null }>>, stored: ReadonlyMap<string, Array<{ offset: string; hash: string }>>): ChainCheck {
  let checked = 0;
  let unchained = 0;
  let cut = 0;
  const problems: ChainProblem[] = [];
  for (const key of [...stored.keys()].sort()) {
    const links = stored.get(key)!;
    if (links.length === 0) continue;
    const at = key.lastIndexOf(':');
    const topic = key.slice(0, at);
    const partition = Number(key.slice(at + 1));
    const records = read.get(key) ?? [];
    const byOffset = new Map(records.map((r) => [r.offset, r]));
    const first = BigInt(links[0].offset);
    const logStart = records.length ? BigInt(records[0].offset) : null;
    const retained = CUT_BY_RETENTION.has(topic);
    unchained += records.filter((r) => BigInt(r.offset) < first).length;
    let previous = '';
    // the chain starts from the empty string at the partition's first chained record
    for (const link of links) {
      const r = byOffset.get(link.offset);
      if (!r && retained && (logStart === null || BigInt(link.offset) < logStart)) {
        // below the log start of a topic retention cuts: the chain goes on from the stored link
        previous = link.hash;
        cut++;
        continue;
      }
      if (!r) {
        problems.push({ topic, partition, offset: Number(link.offset), problem: 'missing', detail: `the catalog applied ${topic}[${partition}]@${link.offset}; the log no longer has it (deleted, or no longer decodable)` });
        break;
      }
      const mine = linkOf(previous, topic, partition, link.offset, r.value);
      if (mine !== link.hash) {
        problems.push({ topic, partition, offset: Number(link.offset), problem: 'changed', detail: `${topic}[${partition}]@${link.offset} differs from what the catalog applied (chain link ${link.hash.slice(0, 16)}…, now ${mine.slice(0, 16)}…)` });
        break;
      }
      previous = mine;
      checked++;
    }
  }
  return { checked, unchained, cut, problems };
}
