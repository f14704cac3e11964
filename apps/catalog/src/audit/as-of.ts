/**
 * The catalog's state at a past point (GET /at, `dsf catalog at`): the read models rebuilt by a
 * fold of the log up to a cut into a scratch schema (fold.ts), read with the live endpoints' own
 * queries, then dropped. The digest is the one a replay cut at the same positions gives.
 *
 * The point, precisely:
 * - `time=T` (ISO or ms): every topic (dsf.events, dsf.dlog, sov.events), each partition up to
 *   its last record appended at or before T (a prefix: see fold.ts);
 * - `offset=N`: dsf.events, every partition, the records at offsets <= N; `sovOffset=M` likewise
 *   for sov.events. A topic without an offset (dsf.dlog always; sov.events without sovOffset) is
 *   cut by time at the append time of the latest dsf.events record applied: what the catalog had
 *   of it when it had those events (no record of dsf.events applied: nothing of it either).
 * `asOf.positions` gives the exact result: per topic partition, the next offset after the last
 * record applied; a replay with those positions (replay.ts --until) gives the same digest.
 */
import { Topic } from '@deltaflow/contracts';
import type { PartitionKey } from '@deltaflow/service-kit';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import { queryDsims, type DsimView } from '../dsims/dsims.projection';
import { queryLineages, type LineageView } from '../lineages/lineages.projection';
import { queryRestores, type RestoreView } from '../restores/restores.projection';
import { querySaves, type SaveView } from '../saves/saves.projection';
import { queryClientFiles, type ClientFileView } from '../sov-client-files/client-files.projection';
import { queryStreams, type StreamView } from '../sov-streams/streams.projection';
import { queryVolumes, type VolumeView } from '../sov-volumes/volumes.projection';
import { foldInto, type TopicCut } from './fold';

export type AtSpec = { readonly offset: bigint; readonly sovOffset?: bigint; readonly dbid?: number } | { readonly time: number; readonly dbid?: number };

export interface AtState {
  asOf: {
    /** the dsf.events offset asked for (null for a time cut) */
    eventsOffset: number | null;
    /** the sov.events offset asked for (null: cut by time) */
    sovOffset: number | null;
    /** ISO time of the time cut (asked for, or derived from the latest dsf.events record applied; null: nothing applied) */
    time: string | null;
    /** per topic, per partition: the next offset after the last record applied (absent: none applied) */
    positions: Record<string, Record<string, number>>;
    records: number;
  };
  digest: string;
  rows: Record<string, number>;
  saves: SaveView[];
  dsims: DsimView[];
  lineages: LineageView[];
  restores: RestoreView[];
  streams: StreamView[];
  volumes: VolumeView[];
  clientFiles: ClientFileView[];
}

const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

/** Parses GET /at's query (offset, sovOffset, time, dbid): a clear error for anything else. */
export function parseAtSpec(q: { offset?: unknown; sovOffset?: unknown; time?: unknown; dbid?: unknown }): AtSpec {
  const str = (name: string, v: unknown) => {
    if (typeof v !== 'string') throw new CatalogError('VALIDATION', `${name}: expected one value, got ${JSON.stringify(v)}`);
    return v;
  };
  const offset = (name: string, v: unknown) => {
    const s = str(name, v);
    if (!OFFSET.test(s)) throw new CatalogError('VALIDATION', `${name}: expected a non-negative integer offset, got ${JSON.stringify(s.slice(0, 40))}`);
    return BigInt(s);
  };
  let dbid: number | undefined;
  if (q.dbid !== undefined) {
    const s = str('dbid', q.dbid);
    if (!/^[1-9][0-9]{0,4}$/.test(s) || Number(s) > 65535) throw new CatalogError('VALIDATION', `dbid: expected an integer in [1, 65535], got ${JSON.stringify(s.slice(0, 32))}`);
    dbid = Number(s);
  }
  const d = dbid === undefined ? {} : { dbid };
  if (q.time !== undefined) {
    if (q.offset !== undefined || q.sovOffset !== undefined) throw new CatalogError('VALIDATION', 'time: give either time or offset (with sovOffset), not both');
    const s = str('time', q.time);
    const t = /^[0-9]{1,15}$/.test(s) ? Number(s) : /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : NaN;
    if (!Number.isFinite(t)) throw new CatalogError('VALIDATION', `time: expected an ISO date-time or ms since the epoch, got ${JSON.stringify(s.slice(0, 40))}`);
    return { time: t, ...d };
  }
  if (q.offset === undefined) throw new CatalogError('VALIDATION', 'offset or time: one is required (offset=N[&sovOffset=M] | time=ISO)');
  return { offset: offset('offset', q.offset), ...(q.sovOffset !== undefined ? { sovOffset: offset('sovOffset', q.sovOffset) } : {}), ...d };
}

/** The state at the point (see the file comment). */
export async function stateAt(brokers: readonly string[], databaseUrl: string, spec: AtSpec): Promise<AtState> {
  const timeOf = (latest: Map<string, number>): TopicCut => {
    const t = latest.get(Topic.dsfEvents);
    return { time: t ?? -1 };
  };
  const steps =
    'time' in spec
      ? [{ topics: [Topic.dsfEvents, Topic.dlog, Topic.sovEvents], cut: (): TopicCut => ({ time: spec.time }) }]
      : [
          { topics: [Topic.dsfEvents], cut: (): TopicCut => ({ lastOffset: spec.offset }) },
          { topics: [Topic.dlog], cut: (p: { latest: Map<string, number> }) => timeOf(p.latest) },
          { topics: [Topic.sovEvents], cut: (p: { latest: Map<string, number> }): TopicCut => (spec.sovOffset !== undefined ? { lastOffset: spec.sovOffset } : timeOf(p.latest)) },
        ];
  const r = await foldInto({ brokers, databaseUrl, steps, inspect: (ds) => readModels(ds, spec.dbid) });
  const positions: Record<string, Record<string, number>> = {};
  for (const [key, next] of r.positions) {
    const at = key.lastIndexOf(':');
    (positions[key.slice(0, at)] ??= {})[key.slice(at + 1)] = Number(next);
  }
  const cutTime = 'time' in spec ? spec.time : r.latest.get(Topic.dsfEvents);
  return {
    asOf: {
      eventsOffset: 'offset' in spec ? Number(spec.offset) : null,
      sovOffset: 'offset' in spec && spec.sovOffset !== undefined ? Number(spec.sovOffset) : null,
      time: cutTime === undefined ? null : new Date(cutTime).toISOString(),
      positions,
      records: r.records,
    },
    digest: r.digest,
    rows: r.rows,
    ...r.inspected,
  };
}

/** positions (as in asOf) as a replay's `until`. */
export function untilOf(positions: Record<string, Record<string, number>>): Map<PartitionKey, bigint> {
  const m = new Map<PartitionKey, bigint>();
  for (const [topic, parts] of Object.entries(positions)) for (const [p, next] of Object.entries(parts)) m.set(`${topic}:${p}`, BigInt(next));
  return m;
}

async function readModels(ds: DataSource, dbid?: number) {
  return ds.transaction('REPEATABLE READ', async (m) => {
    const dbids =
      dbid !== undefined
        ? [dbid]
        : ((await m.query(
            `SELECT dbid FROM catalog_save UNION SELECT dbid FROM catalog_dsim UNION SELECT dbid FROM catalog_lineage UNION SELECT dbid FROM catalog_restore ORDER BY dbid`,
          )) as Array<{ dbid: number }>).map((r) => r.dbid);
    const saves: SaveView[] = [];
    const dsims: DsimView[] = [];
    const lineages: LineageView[] = [];
    const restores: RestoreView[] = [];
    for (const d of dbids) {
      saves.push(...(await querySaves(m, d)));
      dsims.push(...(await queryDsims(m, d)));
      lineages.push(...(await queryLineages(m, d)));
      restores.push(...(await queryRestores(m, d)));
    }
    return {
      saves,
      dsims,
      lineages,
      restores,
      streams: await queryStreams(m),
      volumes: await queryVolumes(m),
      clientFiles: await queryClientFiles(m, dbid !== undefined ? { dbid } : {}),
    };
  });
}
