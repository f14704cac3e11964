// `dsf upstream check` without Kafka: the check over records as a reader delivers them, the
// geometry arguments, the command line and the report. The broker test is
// test/upstream/upstream-check.int.spec.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateGeometry } from '@deltaflow/blocks';
import { SMALL_GEOMETRY, fillImage } from '@deltaflow/blocks/testing';
import { ContractError, decodeFrom, writeEnvelope } from '@deltaflow/contracts';
import { parseCommandLine } from '../program';
import { runCli } from '../run';
import { UpstreamCheck, loadGeometry, render, type UpstreamMessage } from './upstream';

const DBID = 3;
const ASSO = SMALL_GEOMETRY.asso.blockSize;
const DATA = SMALL_GEOMETRY.data.blockSize;

let offset = 0;
const at = (partition = 0) => ({ topic: 'dsf.block-changes', partition, offset: String(offset++) });
const block = (lsn: number, rabn = 5, area: 'ASSO' | 'DATA' = 'DATA', size = area === 'ASSO' ? ASSO : DATA, dbid = DBID): UpstreamMessage => ({
  type: 'BlockChanged',
  dbid,
  area,
  rabn,
  lsn,
  txn: 1,
  image: fillImage(size, lsn),
});
const sync = (lsn: number, syncId = `s${lsn}`): UpstreamMessage => ({ type: 'EtSync', dbid: DBID, lsn, syncId });

function checkOf(records: Array<UpstreamMessage | Error>, o: { syncGapRecords?: number; syncGapLsns?: number; batch?: number; partition?: (i: number) => number } = {}) {
  offset = 0;
  const c = new UpstreamCheck({ dbid: DBID, geometry: SMALL_GEOMETRY, syncGapRecords: o.syncGapRecords ?? 1000, ...(o.syncGapLsns ? { syncGapLsns: o.syncGapLsns } : {}), batch: o.batch ?? 4 });
  records.forEach((r, i) => (r instanceof Error ? c.undecodable(at(o.partition?.(i) ?? 0), r) : c.record(r, at(o.partition?.(i) ?? 0))));
  return c.finish();
}
const reasons = (r: ReturnType<typeof checkOf>) => Object.fromEntries(r.problems.map((p) => [p.reason, p.count]));

describe('UpstreamCheck: the change logger\'s rules in a dry run', () => {
  it('a clean stream: transactions between syncs, a utility inside its file, a stop', () => {
    const r = checkOf([
      { type: 'NucleusState', dbid: DBID, lsn: 1, active: true, at: 1 },
      block(2),
      block(3, 7),
      block(4, 21, 'ASSO'),
      sync(5),
      block(6, 201),
      { type: 'UtilityChanged', dbid: DBID, lsn: 7, file: 2, parts: ['DATA'], ranges: [{ area: 'DATA', from: 201, to: 210 }] },
      sync(8),
      block(9, 9, 'DATA', DATA, 4), // another database: not this check's
      { type: 'NucleusState', dbid: DBID, lsn: 10, active: false, at: 2 },
    ]);
    expect(r).toMatchObject({ records: 10, ofDatabase: 9, otherDatabases: 1, undecodable: 0, syncPoints: 3, duplicates: 0, lsn: { first: 1, last: 10 }, problems: [] });
  });

  it('refuses what the change logger refuses, per reason with the first offsets, across batch boundaries', () => {
    const r = checkOf(
      [
        block(1),
        block(2),
        block(3),
        block(4), // batch boundary (batch 4)
        block(3, 9), // LSN not increasing, across batches
        block(5, 999), // DATA has 256 blocks
        block(6, 5, 'DATA', 100), // not one block
        block(7, 5, 'ASSO', DATA), // an ASSO image of the DATA size
        { type: 'UtilityChanged', dbid: DBID, lsn: 8, file: 1, parts: ['DATA'], ranges: [{ area: 'DATA', from: 190, to: 220 }] },
        { type: 'UtilityChanged', dbid: DBID, lsn: 9, file: 4, parts: ['DATA'] },
        block(2, 11),
        sync(10),
      ],
      { batch: 4 },
    );
    expect(reasons(r)).toEqual({ LSN_NOT_INCREASING: 2, RABN_OUT_OF_RANGE: 1, IMAGE_LENGTH: 2, VALIDATION: 2 });
    const lsn = r.problems.find((p) => p.reason === 'LSN_NOT_INCREASING')!;
    expect(lsn.first.map((f) => f.offset)).toEqual(['4', '10']);
    expect(lsn.first[0]).toMatchObject({ partition: 0, lsn: 3, field: 'lsn', message: 'BlockChanged: LSN 3 is not above the last LSN 4 of database 3' });
    expect(r.problems.find((p) => p.reason === 'RABN_OUT_OF_RANGE')!.first[0].message).toBe('BlockChanged: RABN 999 is outside DATA 1..256 of database 3');
    expect(r.problems.find((p) => p.reason === 'VALIDATION')!.first.map((f) => f.message)).toEqual([
      'UtilityChanged: DATA range 190-220 is outside the data storage of file 1 of database 3',
      'UtilityChanged: file 4 is not in the geometry of database 3',
    ]);
  });

  it('an exact repeat is skipped as the change logger skips it; LSN 0 is reported', () => {
    const r = checkOf([block(0), block(1), block(2), block(2), sync(3), sync(3)]);
    expect(r.duplicates).toBe(3); // LSN 0 (taken for applied), the repeated block and sync
    expect(reasons(r)).toEqual({ LSN_ZERO: 1 });
  });

  it('sync gaps: by records and by LSNs, each gap once, from the first record read when no sync came yet', () => {
    const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => block(from + i, 1 + (i % 200)));
    const r = checkOf([...many(1, 12), sync(13), ...many(14, 5), sync(19), ...many(20, 11)], { syncGapRecords: 10, batch: 7 });
    const gap = r.problems.find((p) => p.reason === 'SYNC_GAP')!;
    expect(gap.count).toBe(2);
    expect(gap.first[0]).toMatchObject({ offset: '10', lsn: 11, message: 'more than 10 records without a sync point since the first record read (LSN 1)' });
    expect(gap.first[1]).toMatchObject({ offset: '29', lsn: 30, message: 'more than 10 records without a sync point since the sync point at 0@18 (LSN 19)' });

    const sparse = checkOf([block(1), sync(2), block(500), block(2000), sync(2001)], { syncGapLsns: 1000 });
    expect(sparse.problems).toEqual([
      { reason: 'SYNC_GAP', count: 1, first: [{ partition: 0, offset: '3', lsn: 2000, message: '1998 LSNs (more than 1000) without a sync point since the sync point at 0@1 (LSN 2)' }] },
    ]);
  });

  it('undecodable records count where the database\'s records are; a database split over partitions is a problem', () => {
    const bad = () => {
      try {
        decodeFrom('dsf.block-changes', writeEnvelope('BlockChanged', 1, { dbid: DBID, area: 'INDEX', rabn: 1, lsn: 4, txn: 0 }, [Buffer.alloc(DATA)]));
      } catch (e) {
        return e as ContractError;
      }
      throw new Error('decoded');
    };
    // partition 0 holds database 3; the garbage on partition 1 is some other engine's
    const r = checkOf([block(1), bad(), bad(), sync(2)], { partition: (i) => (i === 2 ? 1 : 0) });
    expect(r.undecodable).toBe(1);
    expect(r.problems).toEqual([{ reason: 'CONTRACT_VALIDATION', count: 1, first: [{ partition: 0, offset: '1', field: 'area', message: "BlockChanged.area: expected one of 'ASSO' | 'DATA', got \"INDEX\"" }] }]);
    // nothing of the database decodes: every undecodable record is counted, and nothing was seen
    expect(reasons(checkOf([bad(), bad()], { partition: (i) => i }))).toEqual({ NO_RECORDS: 0, CONTRACT_VALIDATION: 2 });
    expect(reasons(checkOf([block(1), block(2), sync(3)], { partition: (i) => i % 2 }))).toEqual({ PARTITIONS: 2 });
  });
});

describe('--geometry', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsf-upstream-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a database directory, a header.json, or a bare geometry; the wrong database or a bad file is a usage error', () => {
    fs.mkdirSync(path.join(dir, 'db'));
    fs.writeFileSync(path.join(dir, 'db', 'header.json'), JSON.stringify({ format: 'deltaflow-blockdb', version: 1, dbid: DBID, geometry: SMALL_GEOMETRY }));
    fs.writeFileSync(path.join(dir, 'g.json'), JSON.stringify(SMALL_GEOMETRY));
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...SMALL_GEOMETRY, maxFiles: 0 }));
    const normalized = validateGeometry(SMALL_GEOMETRY);
    expect(loadGeometry(path.join(dir, 'db'), DBID)).toEqual(normalized);
    expect(loadGeometry('db/header.json', DBID, dir)).toEqual(normalized);
    expect(loadGeometry(path.join(dir, 'g.json'), 9)).toEqual(normalized);
    expect(() => loadGeometry(path.join(dir, 'db'), 4)).toThrow(/geometry of database 3, not of database 4/);
    expect(() => loadGeometry(path.join(dir, 'bad.json'), 4)).toThrow(/maxFiles must be an integer/);
    expect(() => loadGeometry(path.join(dir, 'none'), 4)).toThrow(/no such file or directory/);
  });

  it('without --geometry and no running system: exit 2 naming where it looked, before any Kafka', async () => {
    const err: string[] = [];
    const code = await runCli(['upstream', 'check', '--dbid', '7'], { env: { DELTAFLOW_HOME: path.join(dir, 'home') }, out: () => undefined, err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain(`the database directory of the running system: ${path.join(dir, 'home', 'data', 'databases', '7')}`);
  });
});

describe('dsf upstream check: the command line and the report', () => {
  it('parses into a run plan; refuses other topics and bad numbers (exit 2)', () => {
    const parsed = parseCommandLine(['upstream', 'check', '--dbid', '1', '--from-offset', '10', '--limit', '5', '--json']);
    expect(parsed).toMatchObject({ kind: 'plan', plan: { kind: 'run', command: 'upstream check', json: true } });
    expect(() => parseCommandLine(['upstream', 'check', '--dbid', '1', '--topic', 'dsf.events'])).toThrow(/upstream contract is on dsf.block-changes/);
    expect(() => parseCommandLine(['upstream', 'check', '--dbid', '1', '--limit', '0'])).toThrow(/--limit: expected an integer ≥ 1/);
    expect(() => parseCommandLine(['upstream', 'check', '--dbid', '1', '--from-offset', '-1'])).toThrow(CliUsageErrorLike);
    expect(() => parseCommandLine(['upstream', 'check'])).toThrow(/--dbid/);
    expect(() => parseCommandLine(['upstream'])).toThrow(/expected a command: check/);
  });

  it('renders clean as stdout lines (exit 0) and problems per reason (exit 1) with --json\'s object', () => {
    const read = [{ partition: 0, from: '0', end: '12', logStart: '0', last: '11' }];
    const clean = render({ dbid: 1, topic: 'dsf.block-changes' }, read, { dbid: 1, records: 12, ofDatabase: 12, otherDatabases: 0, undecodable: 0, lsn: { first: 1, last: 12 }, syncPoints: 2, duplicates: 0, problems: [] });
    expect(clean.exitCode).toBe(0);
    expect(clean.lines).toEqual([
      'upstream check of database 1 on dsf.block-changes: 12 records read (partition 0: offsets 0..11)',
      '  12 of database 1 (LSN 1..12), 2 sync points, 0 exact repeats (skipped), 0 of other databases, 0 undecodable',
      '  clean: a change logger accepts every record of database 1',
    ]);
    const bad = render({ dbid: 1, topic: 'dsf.block-changes' }, read, {
      dbid: 1, records: 12, ofDatabase: 12, otherDatabases: 0, undecodable: 0, lsn: { first: 1, last: 12 }, syncPoints: 0, duplicates: 0,
      problems: [{ reason: 'RABN_OUT_OF_RANGE', count: 7, first: [{ partition: 0, offset: '3', lsn: 4, field: 'rabn', message: 'BlockChanged: RABN 999 is outside DATA 1..256 of database 1' }] }],
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.lines.slice(2)).toEqual([
      '  1 kind of problem (7 in all):',
      '  RABN_OUT_OF_RANGE: 7 × RABN outside the area of the database',
      '    at 0@3 LSN 4: BlockChanged: RABN 999 is outside DATA 1..256 of database 1',
      '    ... and 6 more',
    ]);
    expect(bad.json).toMatchObject({ ok: false, command: 'upstream check', dbid: 1, problems: [{ reason: 'RABN_OUT_OF_RANGE', count: 7, description: 'RABN outside the area of the database' }] });
  });
});

const CliUsageErrorLike = /--from-offset: expected an integer ≥ 0/;
