/**
 * `dsf upstream check`: what a change logger would do with an upstream database engine's stream.
 *
 * Reads dsf.block-changes (a TopicReader from the log start, or --from-offset, up to the end as
 * it was when the check started; --limit records at most) and reports, per reason, how many
 * records of database N a change logger would refuse or mishandle, with the first offsets:
 *
 * - records that do not decode (CONTRACT_<code>: the contract error names the field: an unknown
 *   area, a RABN of 0, an image of 0 bytes, a field that is not in the message...);
 * - what the change logger's own rules refuse (LSN_NOT_INCREASING, RABN_OUT_OF_RANGE,
 *   IMAGE_LENGTH, VALIDATION for a utility range outside its file...): the records of database N
 *   are fed to a private `ChangeLog` of @deltaflow/dlog, the class the change logger runs, in a
 *   dry run: prepare() per batch, and commit() only into that private instance (so LSN order
 *   holds across batches); nothing is published;
 * - LSN_ZERO: a change logger takes LSN 0 for already applied and skips it (LSNs start at 1);
 * - SYNC_GAP: no sync point (EtSync, or NucleusState inactive) for more than --sync-gap-records
 *   records (default 10000) or --sync-gap-lsns LSNs: online saves start and end at sync points,
 *   and a save waits for one;
 * - PARTITIONS: records of database N on more than one partition (the key must be the dbid, or
 *   their order is lost);
 * - NO_RECORDS: nothing of database N in the range read.
 *
 * Undecodable records name no database: they are counted against database N when they sit on a
 * partition that carries its records (on every partition read when none does).
 *
 * The geometry (RABN bounds, block sizes, files) comes from --geometry: a database directory
 * (its header.json), a header.json, or a JSON file holding the geometry alone; without it, the
 * database directory of the system `npm start` runs ($DELTAFLOW_DATA_DIR, or
 * $DELTAFLOW_HOME/data). Exit 0 clean, 1 problems found (printed), 2 bad arguments, 3 Kafka
 * unreachable or the end not reached within --timeout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { databaseDir } from '@deltaflow/blockdb';
import { validateGeometry, type Geometry } from '@deltaflow/blocks';
import { ContractError, Topic, type TopicMessage } from '@deltaflow/contracts';
import { ChangeLog, DlogError, type UpstreamRecord } from '@deltaflow/dlog';
import { createKafka, TopicReader, partitionKey, type RecordAt } from '@deltaflow/service-kit';
import { kafkaConnection } from '../endpoints';
import { CliUsageError, dbidArg, timeoutArg } from '../options';
import { trouble, usage, type Json, type Outcome } from '../outcome';
import type { CommandGroup, Plan, RunContext } from '../plan';

export type UpstreamMessage = TopicMessage<'dsf.block-changes'>;

/** One record a reason applies to. */
export interface Finding {
  readonly partition: number;
  readonly offset: string;
  readonly message: string;
  readonly field?: string;
  readonly lsn?: number;
}

export interface Problem {
  readonly reason: string;
  readonly count: number;
  /** the first FIRST_KEPT findings, in the order read */
  readonly first: readonly Finding[];
}

export interface CheckReport {
  readonly dbid: number;
  /** records read (any database, undecodable ones included) */
  readonly records: number;
  readonly ofDatabase: number;
  readonly otherDatabases: number;
  /** undecodable records counted against this database (see the header comment) */
  readonly undecodable: number;
  readonly lsn: { readonly first: number; readonly last: number } | null;
  readonly syncPoints: number;
  /** exact repeats: the change logger skips them (a producer retry) */
  readonly duplicates: number;
  readonly problems: readonly Problem[];
}

export interface CheckOptions {
  readonly dbid: number;
  readonly geometry: Geometry;
  /** a sync gap longer than this many records of the database is a problem */
  readonly syncGapRecords: number;
  /** a sync gap longer than this many LSNs is a problem (undefined: not checked) */
  readonly syncGapLsns?: number;
  /** records per ChangeLog.prepare (default 500) */
  readonly batch?: number;
}

export const FIRST_KEPT = 5;
export const DEFAULT_SYNC_GAP_RECORDS = 10_000;
const DEFAULT_CHECK_TIMEOUT_SEC = 600;

/** What each reason means to an engine's author (codes are the change logger's own, or this check's). */
export const REASONS: Readonly<Record<string, string>> = {
  NO_RECORDS: 'no record of the database in the range read',
  PARTITIONS: 'records of the database on more than one partition: the Kafka key must be the dbid',
  LSN_NOT_INCREASING: 'LSN not above the last one of the database (and not an exact repeat)',
  LSN_ZERO: 'LSN 0: the change logger takes it for already applied and skips it; LSNs start at 1',
  RABN_OUT_OF_RANGE: 'RABN outside the area of the database',
  IMAGE_LENGTH: 'image not exactly one block of its area',
  VALIDATION: 'utility change outside its file (or a file the geometry lacks)',
  UNKNOWN_DBID: 'database not protected',
  SYNC_GAP: 'too long without a sync point (EtSync or NucleusState inactive): saves need sync points',
};

export function describeReason(reason: string): string {
  if (reason.startsWith('CONTRACT_')) return `record does not decode (${reason.slice(9)}): the contract error names the field`;
  return REASONS[reason] ?? 'refused by the change logger';
}

const where = (at: { partition: number; offset: string }) => `${at.partition}@${at.offset}`;

/**
 * The check itself, without Kafka: feed it the records in the order read (`record`,
 * `undecodable`), then `finish()`.
 */
export class UpstreamCheck {
  private readonly changeLog: ChangeLog;
  private readonly batchSize: number;
  private pending: Array<{ m: UpstreamRecord; at: RecordAt }> = [];
  private readonly problems = new Map<string, { count: number; first: Finding[] }>();
  private readonly undecodableByPartition = new Map<number, Array<{ at: RecordAt; err: Error }>>();
  private readonly partitionsOfDb = new Set<number>();
  private readonly partitionsRead = new Set<number>();
  private records = 0;
  private ofDatabase = 0;
  private otherDatabases = 0;
  private duplicates = 0;
  private syncPoints = 0;
  private lsnFirst: number | undefined;
  private lsnLast: number | undefined;
  // the current stretch without a sync point
  private gapRecords = 0;
  private gapFrom: { at?: RecordAt; lsn?: number } = {};
  private gapReported = false;

  constructor(private readonly o: CheckOptions) {
    this.changeLog = new ChangeLog([{ dbid: o.dbid, geometry: o.geometry }]);
    this.batchSize = o.batch ?? 500;
  }

  private add(reason: string, f: Finding): void {
    const p = this.problems.get(reason) ?? { count: 0, first: [] };
    p.count++;
    if (p.first.length < FIRST_KEPT) p.first.push(f);
    this.problems.set(reason, p);
  }

  /** A record that decoded. */
  record(m: UpstreamMessage, at: RecordAt): void {
    this.records++;
    this.partitionsRead.add(at.partition);
    if (m.dbid !== this.o.dbid) {
      this.otherDatabases++;
      return;
    }
    this.ofDatabase++;
    this.partitionsOfDb.add(at.partition);
    this.lsnFirst ??= m.lsn;
    this.lsnLast = m.lsn;
    if (m.lsn === 0) this.add('LSN_ZERO', { partition: at.partition, offset: at.offset, lsn: 0, field: 'lsn', message: `${m.type} with LSN 0 is skipped by the change logger as already applied` });
    this.followSyncs(m, at);
    this.pending.push({ m, at });
    if (this.pending.length >= this.batchSize) this.flush();
  }

  /** A record that did not decode (`err` is the contract's error, naming the field). */
  undecodable(at: RecordAt, err: Error): void {
    this.records++;
    this.partitionsRead.add(at.partition);
    const list = this.undecodableByPartition.get(at.partition) ?? [];
    list.push({ at, err });
    this.undecodableByPartition.set(at.partition, list);
  }

  private followSyncs(m: UpstreamMessage, at: RecordAt): void {
    const isSync = m.type === 'EtSync' || (m.type === 'NucleusState' && !m.active);
    if (isSync) {
      this.syncPoints++;
      this.gapRecords = 0;
      this.gapFrom = { at, lsn: m.lsn };
      this.gapReported = false;
      return;
    }
    if (this.gapRecords === 0 && this.gapFrom.lsn === undefined) this.gapFrom = { lsn: m.lsn };
    this.gapRecords++;
    if (this.gapReported) return;
    const since = this.gapFrom.at ? `the sync point at ${where(this.gapFrom.at)} (LSN ${this.gapFrom.lsn})` : `the first record read (LSN ${this.gapFrom.lsn})`;
    const lsns = m.lsn - (this.gapFrom.lsn ?? m.lsn);
    if (this.gapRecords > this.o.syncGapRecords) {
      this.gapReported = true;
      this.add('SYNC_GAP', { partition: at.partition, offset: at.offset, lsn: m.lsn, message: `more than ${this.o.syncGapRecords} records without a sync point since ${since}` });
    } else if (this.o.syncGapLsns !== undefined && lsns > this.o.syncGapLsns) {
      this.gapReported = true;
      this.add('SYNC_GAP', { partition: at.partition, offset: at.offset, lsn: m.lsn, message: `${lsns} LSNs (more than ${this.o.syncGapLsns}) without a sync point since ${since}` });
    }
  }

  /** Runs the pending records through the change logger's rules (dry: the private ChangeLog only). */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.apply(batch);
    } catch (e) {
      if (!(e instanceof DlogError)) throw e;
      // a rule of the DLOG decider threw inside the batch: find the record, one at a time
      for (const item of batch) {
        try {
          this.apply([item]);
        } catch (err) {
          if (!(err instanceof DlogError)) throw err;
          this.add(err.code, { partition: item.at.partition, offset: item.at.offset, lsn: item.m.lsn, message: err.message });
        }
      }
    }
  }

  private apply(batch: ReadonlyArray<{ m: UpstreamRecord; at: RecordAt }>): void {
    const prepared = this.changeLog.prepare(batch.map((b) => b.m));
    for (const r of prepared.rejected) {
      const { at, m } = batch[r.index];
      this.add(r.code, { partition: at.partition, offset: at.offset, lsn: m.lsn, message: `${m.type}: ${r.message}`, ...(r.field ? { field: r.field } : {}) });
    }
    this.duplicates += prepared.duplicates;
    prepared.commit(); // into the private ChangeLog: the next batch continues from this state
  }

  finish(): CheckReport {
    this.flush();
    // undecodable records name no database: those on partitions carrying this database's records count
    const partitions = this.partitionsOfDb.size > 0 ? [...this.partitionsOfDb] : [...this.undecodableByPartition.keys()];
    const undecodable = partitions.flatMap((p) => this.undecodableByPartition.get(p) ?? []).sort((a, b) => a.at.partition - b.at.partition || Number(BigInt(a.at.offset) - BigInt(b.at.offset)));
    for (const { at, err } of undecodable) {
      const code = err instanceof ContractError ? err.code : 'ERROR';
      const field = err instanceof ContractError ? err.field : undefined;
      this.add(`CONTRACT_${code}`, { partition: at.partition, offset: at.offset, message: err.message, ...(field ? { field } : {}) });
    }
    if (this.partitionsOfDb.size > 1) {
      const ps = [...this.partitionsOfDb].sort((a, b) => a - b);
      this.problems.set('PARTITIONS', { count: ps.length, first: ps.slice(0, FIRST_KEPT).map((p) => ({ partition: p, offset: '-', message: `records of database ${this.o.dbid} on partitions ${ps.join(', ')}` })) });
    }
    if (this.ofDatabase === 0) this.problems.set('NO_RECORDS', { count: 0, first: [] });
    const order = (r: string) => (r === 'NO_RECORDS' ? 0 : r === 'PARTITIONS' ? 1 : r.startsWith('CONTRACT_') ? 2 : r === 'SYNC_GAP' ? 4 : 3);
    const problems = [...this.problems.entries()]
      .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
      .map(([reason, p]) => ({ reason, count: p.count, first: p.first }));
    return {
      dbid: this.o.dbid,
      records: this.records,
      ofDatabase: this.ofDatabase,
      otherDatabases: this.otherDatabases,
      undecodable: undecodable.length,
      lsn: this.lsnFirst === undefined ? null : { first: this.lsnFirst, last: this.lsnLast! },
      syncPoints: this.syncPoints,
      duplicates: this.duplicates,
      problems,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The geometry

/**
 * The geometry of database `dbid` from a database directory (its header.json), a header.json
 * ({format, version, dbid, geometry}) or a JSON file of the geometry alone. CliUsageError otherwise.
 */
export function loadGeometry(arg: string, dbid: number, cwd = process.cwd()): Geometry {
  const p = path.resolve(cwd, arg);
  let file = p;
  try {
    if (fs.statSync(p).isDirectory()) file = path.join(p, 'header.json');
  } catch {
    throw new CliUsageError(`--geometry: no such file or directory: ${arg}`);
  }
  let body: any;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliUsageError(`--geometry: cannot read ${file} as JSON: ${(e as Error).message}`);
  }
  const inner = body && typeof body === 'object' && 'geometry' in body ? body.geometry : body;
  if (body && typeof body === 'object' && 'dbid' in body && body.dbid !== dbid) {
    throw new CliUsageError(`--geometry: ${file} is the geometry of database ${JSON.stringify(body.dbid)}, not of database ${dbid}`);
  }
  try {
    return validateGeometry(inner);
  } catch (e) {
    throw new CliUsageError(`--geometry: ${file}: ${(e as Error).message}`);
  }
}

/** Without --geometry: the database directory of the system `npm start` runs from this home. */
function defaultGeometryDir(ctx: RunContext, dbid: number): string {
  const home = path.resolve(ctx.cwd ?? process.cwd(), ctx.env.DELTAFLOW_HOME || '.deltaflow');
  const dataDir = ctx.env.DELTAFLOW_DATA_DIR ? path.resolve(ctx.cwd ?? process.cwd(), ctx.env.DELTAFLOW_DATA_DIR) : path.join(home, 'data');
  return databaseDir(dataDir, dbid);
}

// ---------------------------------------------------------------------------------------------
// Reading the topic

interface CheckArgs {
  dbid: number;
  topic: string;
  fromOffset?: number;
  limit?: number;
  geometry?: string;
  syncGapRecords?: number;
  syncGapLsns?: number;
  timeout?: number;
  json?: boolean;
}

interface PartitionRange {
  readonly partition: number;
  /** first offset asked for, and the end when the check started */
  readonly from: string;
  readonly end: string;
  /** offsets below the log start were deleted (retention) */
  readonly logStart: string;
}

async function runCheck(a: CheckArgs, ctx: RunContext): Promise<Outcome> {
  let geometry: Geometry;
  try {
    geometry = loadGeometry(a.geometry ?? defaultGeometryDir(ctx, a.dbid), a.dbid, ctx.cwd);
  } catch (e) {
    if (!(e instanceof CliUsageError)) throw e;
    const hint = a.geometry === undefined ? ` (without --geometry, the database directory of the running system: ${defaultGeometryDir(ctx, a.dbid)})` : '';
    return usage(`upstream check: ${e.message}${hint}`);
  }
  const conn = kafkaConnection(ctx.discovery);
  const security = { ...(conn.ssl ? { ssl: conn.ssl } : {}), ...(conn.sasl ? { sasl: conn.sasl } : {}) };
  const clientId = 'dsf-upstream-check';
  const admin = createKafka({ clientId, brokers: conn.brokers, security, retries: 3, quiet: true }).admin();
  await admin.connect();
  let ranges: PartitionRange[];
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(a.topic)) {
      const report = new UpstreamCheck({ dbid: a.dbid, geometry, syncGapRecords: a.syncGapRecords ?? DEFAULT_SYNC_GAP_RECORDS }).finish();
      return render(a, [], report, `topic ${a.topic} does not exist: nothing was ever published on it`);
    }
    const offsets = await admin.fetchTopicOffsets(a.topic);
    ranges = offsets
      .map((p) => {
        const low = BigInt(p.low);
        const high = BigInt(p.high);
        const asked = a.fromOffset === undefined ? low : BigInt(a.fromOffset);
        const from = asked < low ? low : asked > high ? high : asked;
        return { partition: p.partition, from: from.toString(), end: high.toString(), logStart: low.toString() };
      })
      .sort((x, y) => x.partition - y.partition);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const check = new UpstreamCheck({ dbid: a.dbid, geometry, syncGapRecords: a.syncGapRecords ?? DEFAULT_SYNC_GAP_RECORDS, ...(a.syncGapLsns !== undefined ? { syncGapLsns: a.syncGapLsns } : {}) });
  let seen = 0;
  let limitReached!: () => void;
  const atLimit = new Promise<void>((r) => (limitReached = r));
  const lastRead = new Map<number, string>();
  const take = (at: RecordAt): boolean => {
    if (a.limit !== undefined && seen >= a.limit) return false;
    seen++;
    lastRead.set(at.partition, at.offset);
    if (a.limit !== undefined && seen >= a.limit) limitReached();
    return true;
  };
  const reader = new TopicReader<UpstreamMessage>({
    brokers: conn.brokers,
    clientId,
    security,
    topics: [Topic.blockChanges],
    from: new Map(ranges.map((r) => [partitionKey(a.topic, r.partition), BigInt(r.from)])),
    until: 'end',
    onMessage: (m, at) => {
      if (take(at)) check.record(m, at);
    },
    onUndecodable: (at, err) => {
      if (take(at)) check.undecodable(at, err);
    },
  });
  const timeoutSec = a.timeout ?? DEFAULT_CHECK_TIMEOUT_SEC;
  let timer: NodeJS.Timeout | undefined;
  try {
    await reader.start();
    const finished = await Promise.race([
      reader.caughtUp.then(() => true),
      atLimit.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutSec * 1000))),
    ]);
    if (!finished) return trouble(`upstream check: ${a.topic} not read to its end within ${timeoutSec} s (${seen} records read; --timeout)`, { command: 'upstream check' });
  } finally {
    if (timer) clearTimeout(timer);
    await reader.stop();
  }
  const read = ranges.map((r) => ({ ...r, last: lastRead.get(r.partition) ?? null }));
  return render(a, read, check.finish());
}

/** The report as text (stdout when clean, stderr otherwise) and as --json's object. */
export function render(a: Pick<CheckArgs, 'dbid' | 'topic' | 'fromOffset' | 'limit'>, read: ReadonlyArray<PartitionRange & { last: string | null }>, r: CheckReport, note?: string): Outcome {
  const ok = r.problems.length === 0;
  const lines: string[] = [];
  const span = read
    .filter((p) => p.last !== null)
    .map((p) => `partition ${p.partition}: offsets ${p.from}..${p.last}`)
    .join(', ');
  lines.push(`upstream check of database ${a.dbid} on ${a.topic}: ${r.records} records read${span ? ` (${span})` : ''}${a.limit !== undefined && r.records >= a.limit ? ` (--limit ${a.limit})` : ''}`);
  if (note) lines.push(`  ${note}`);
  const truncated = read.filter((p) => a.fromOffset !== undefined && BigInt(p.logStart) > BigInt(a.fromOffset));
  if (truncated.length > 0) lines.push(`  offsets below ${truncated.map((p) => `${p.logStart} (partition ${p.partition})`).join(', ')} were deleted: read from there`);
  lines.push(
    `  ${r.ofDatabase} of database ${a.dbid}${r.lsn ? ` (LSN ${r.lsn.first}..${r.lsn.last})` : ''}, ${r.syncPoints} sync point${r.syncPoints === 1 ? '' : 's'}, ${r.duplicates} exact repeat${r.duplicates === 1 ? '' : 's'} (skipped), ${r.otherDatabases} of other databases, ${r.undecodable} undecodable`,
  );
  if (ok) lines.push(`  clean: a change logger accepts every record of database ${a.dbid}`);
  else {
    const n = r.problems.reduce((s, p) => s + p.count, 0);
    lines.push(`  ${r.problems.length} kind${r.problems.length === 1 ? '' : 's'} of problem${n > 0 ? ` (${n} in all)` : ''}:`);
    for (const p of r.problems) {
      lines.push(`  ${p.reason}: ${p.count > 0 ? `${p.count} × ` : ''}${describeReason(p.reason)}`);
      for (const f of p.first) lines.push(`    ${f.offset === '-' ? `partition ${f.partition}` : `at ${where(f)}`}${f.lsn !== undefined ? ` LSN ${f.lsn}` : ''}: ${f.message}`);
      if (p.count > p.first.length) lines.push(`    ... and ${p.count - p.first.length} more`);
    }
  }
  const json: Json = {
    ok,
    command: 'upstream check',
    topic: a.topic,
    dbid: a.dbid,
    partitions: read.map((p) => ({ partition: p.partition, from: p.from, last: p.last, end: p.end, logStart: p.logStart })),
    ...(note ? { note } : {}),
    records: r.records,
    ofDatabase: r.ofDatabase,
    otherDatabases: r.otherDatabases,
    undecodable: r.undecodable,
    lsn: r.lsn,
    syncPoints: r.syncPoints,
    duplicates: r.duplicates,
    problems: r.problems.map((p) => ({ ...p, description: describeReason(p.reason) })),
  };
  return { exitCode: ok ? 0 : 1, lines, json };
}

// ---------------------------------------------------------------------------------------------
// The command line

const count = (flag: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new CliUsageError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
};

function topicArg(v: string): string {
  if (v !== Topic.blockChanges) throw new CliUsageError(`--topic: the upstream contract is on ${Topic.blockChanges}, got ${JSON.stringify(v)}`);
  return v;
}

export const upstreamCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const upstream = program.command('upstream').summary('check what an upstream database engine publishes').description('Tools for the authors of upstream database engines (the publishers of dsf.block-changes).');
    upstream
      .command('check')
      .summary('report what a change logger would refuse in an upstream\'s stream')
      .description(
        'Reads dsf.block-changes from the log start (or --from-offset on every partition) to its end and reports, per reason with the first offsets, ' +
          'what a change logger would refuse among the records of database N: undecodable records (the contract error names the field), LSNs not increasing, ' +
          'RABNs outside the database, images not one block, utility ranges outside their file, LSN 0, records split over partitions, and sync points too far apart ' +
          '(--sync-gap-records, --sync-gap-lsns). The change logger\'s own rules run on a private copy (a dry run): nothing is published. ' +
          'Exit 0 clean, 1 problems found, 2 bad arguments, 3 Kafka unreachable or the end not reached in time.',
      )
      .addOption(new Option('--topic <TOPIC>', 'the topic to read').default(Topic.blockChanges).argParser(topicArg))
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .addOption(new Option('--from-offset <O>', 'start at offset O of each partition (default: the log start)').argParser(count('--from-offset', 0)))
      .addOption(new Option('--limit <N>', 'read at most N records').argParser(count('--limit', 1)))
      .addOption(new Option('--geometry <DIR_OR_JSON>', 'a database directory (header.json), a header.json or a geometry JSON file (default: the database of the running system)'))
      .addOption(new Option('--sync-gap-records <N>', `a problem when more than N records of the database pass without a sync point (default ${DEFAULT_SYNC_GAP_RECORDS})`).argParser(count('--sync-gap-records', 1)))
      .addOption(new Option('--sync-gap-lsns <N>', 'a problem when the LSN moves more than N without a sync point (default: not checked)').argParser(count('--sync-gap-lsns', 1)))
      .addOption(new Option('--timeout <SEC>', `give up when the end is not reached after SEC seconds (exit 3; default ${DEFAULT_CHECK_TIMEOUT_SEC})`).argParser(timeoutArg))
      .option('--json', 'print exactly one JSON object with the report on stdout')
      .action((o: CheckArgs) => use({ kind: 'run', command: 'upstream check', json: o.json === true, run: (ctx) => runCheck(o, ctx) }));
  },
};
