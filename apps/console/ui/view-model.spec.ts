import type { AtAnswer, DatabaseRows, HealthState, RunRow, SaveRow } from './rows';
import { asOfQuery, describePoint, dlogSummary, dsimSummary, formatBytes, formatDuration, formatTime, lagTable, stateFromAt, timelineOf, volumeStrips } from './view-model';

const save = (o: Partial<SaveRow> & Pick<SaveRow, 'correlationId' | 'startedAt'>): SaveRow => ({ dbid: 1, dsid: null, origin: 'save', status: 'completed', ...o });

const DB: DatabaseRows = {
  dbid: 1,
  saves: [
    save({ correlationId: 'd1', dsid: '1/1/t2@L1', kind: 'delta', online: true, startedAt: 2000, completedAt: 2500, blocks: 10, bytes: 40960, path: '/data/datasets/d1' }),
    save({ correlationId: 'full', dsid: '1/0/t1@L1', kind: 'full', online: false, startedAt: 1000, completedAt: 1800, blocks: 100, bytes: 409600, path: '/data/datasets/full' }),
    save({ correlationId: 'm1', dsid: '1/0-1/t2@L1', kind: 'full', origin: 'merge', startedAt: 3000, completedAt: 3100, path: '/data/datasets/full2' }),
    save({ correlationId: 'd2', dsid: null, kind: 'delta', online: true, status: 'failed', startedAt: 6000, reason: 'WRITER_RESTARTED' }),
  ],
  dsims: [
    { dbid: 1, dsid: '1/0/t1@L1', status: 'unloaded', startLsn: 10, endLsn: 20, blocks: 5, acquiredAt: 1000, updatedAt: 1900 },
    { dbid: 1, dsid: '1/1/t2@L1', status: 'completed', startLsn: 30, endLsn: 40, blocks: 7, acquiredAt: 2000, updatedAt: 2600 },
  ],
  lineages: [
    { dbid: 1, lineage: 'L1>1:0#2', firstDsid: '1/1/t5@L2', firstAt: 5000, latestDsid: '1/1/t5@L2', latestAt: 5000 },
    { dbid: 1, lineage: 'L1', firstDsid: '1/0/t1@L1', firstAt: 1000, latestDsid: '1/0-1/t2@L1', latestAt: 3000 },
  ],
  restores: [{ dbid: 1, correlationId: 'r1', target: 'from-full2', kind: 'restore', status: 'completed', inputs: ['full2'], dsid: '1/0-1/t2@L1', intoDatabase: false, blocks: 100, startedAt: 4000, completedAt: 4700 }],
  dlog: {
    blocks: { ASSO: 3, DATA: 9 },
    marks: [
      { file: 7, parts: ['DATA', 'INDEX'], extents: [{ part: 'DATA', from: 1, to: 4 }, { part: 'INDEX', from: 9, to: 9 }] },
      { file: 2, parts: [], extents: [] },
    ],
    extension: { used: 2, capacity: 64 },
    pending: { correlationId: 'd3', syncLsn: 77, ASSO: 1, DATA: 2, exact: false },
    lastLsn: 80,
    updatedAt: 7000,
  },
};

describe('the save chain as a timeline', () => {
  it('orders saves, merges, restores and lineage forks by time, with kind, mode, blocks, bytes, duration and status', () => {
    const t = timelineOf(DB);
    expect(t.map((e) => [e.lane, e.label, e.dsid, e.status])).toEqual([
      ['save', 'full save', '1/0/t1@L1', 'completed'],
      ['save', 'delta save', '1/1/t2@L1', 'completed'],
      ['merge', 'merge → full', '1/0-1/t2@L1', 'completed'],
      ['restore', 'restore', '1/0-1/t2@L1', 'completed'],
      ['fork', 'lineage fork', '1/1/t5@L2', 'forked'],
      ['save', 'delta save', null, 'failed'],
    ]);
    expect(t[0]).toMatchObject({ kind: 'full', mode: 'offline', blocks: 100, bytes: 409600, durationMs: 800, name: 'full' });
    expect(t[1]).toMatchObject({ mode: 'online', durationMs: 500, name: 'd1' });
    expect(t[2].mode).toBeUndefined(); // a merge is neither online nor offline
    expect(t[3]).toMatchObject({ name: 'from-full2', inputs: ['full2'], durationMs: 700 });
    expect(t[4]).toMatchObject({ lineage: 'L1>1:0#2' });
    expect(t[5]).toMatchObject({ reason: 'WRITER_RESTARTED' });
    expect(t[5].durationMs).toBeUndefined();
  });

  it('a save whose data sets the retention deleted shows expired, with the reason', () => {
    const t = timelineOf({ ...DB, restores: [], lineages: [], saves: [save({ correlationId: 'f1', startedAt: 1, kind: 'full', path: 'f1', expiredAt: 5, expiryReason: 'outside the retention (the last save)' })] });
    expect(t[0]).toMatchObject({ status: 'expired', reason: 'outside the retention (the last save)', name: 'f1' });
  });

  it('an empty database has an empty timeline; one lineage has no fork', () => {
    expect(timelineOf({ ...DB, saves: [], restores: [], lineages: [] })).toEqual([]);
    expect(timelineOf({ ...DB, lineages: DB.lineages.slice(1) }).some((e) => e.lane === 'fork')).toBe(false);
  });

  it('the DSIM in use or last used, and the DLOG with its marks per file', () => {
    expect(dsimSummary(DB.dsims)).toMatchObject({ count: 2, label: 'completed — 1/1/t2@L1 window (30, 40], 7 blocks' });
    expect(dsimSummary([]).label).toBe('no DSIM yet');
    expect(dlogSummary(DB.dlog)).toEqual({
      blocks: 'ASSO 3, DATA 9',
      marks: [
        { file: 2, parts: '—', extents: 0 },
        { file: 7, parts: 'DATA+INDEX', extents: 2 },
      ],
      extension: '2 / 64',
      pending: 'capture at LSN 77 (ASSO 1, DATA 2, not exact yet)',
      lastLsn: '80',
    });
    expect(dlogSummary(null)).toBeUndefined();
  });
});

describe('live and as of render through the same rows', () => {
  const at: AtAnswer = {
    asOf: { eventsOffset: 12, sovOffset: 3, time: 1_700_000_000_000 },
    digest: 'abc',
    saves: [...DB.saves, save({ correlationId: 'x', dsid: '2/0/t1@M', kind: 'full', dbid: 2, startedAt: 10 })],
    dsims: DB.dsims,
    lineages: DB.lineages,
    restores: DB.restores.map(({ dbid: _dbid, ...r }) => r), // a catalog that leaves dbid out
    streams: [],
    volumes: [],
    clientFiles: [{ incarnation: 'i1', clientFile: 'f1', stream: 'S', state: 'closed', openedAt: 1, superblocks: 2, bytes: 10, volsers: ['V1'], runs: 1 }],
  };
  const runs: RunRow[] = [
    { incarnation: 'i1', volser: 'V1', position: 0, length: 100, firstSeq: 0, superblocks: 2 },
    { incarnation: 'i-later', volser: 'V1', position: 100, length: 100, firstSeq: 0, superblocks: 2 },
  ];

  it('groups the flat /at rows by database (restores by their DSID), and the timeline equals the live one', () => {
    const s = stateFromAt(at, runs, 5);
    expect(s.mode).toBe('as-of');
    expect(s.databases.map((d) => d.dbid)).toEqual([1, 2]);
    expect(s.databases[0].restores.map((r) => r.correlationId)).toEqual(['r1']);
    expect(s.databases[1].restores).toEqual([]);
    const live = timelineOf(DB).map((e) => ({ ...e }));
    expect(timelineOf(s.databases[0])).toEqual(live);
    // only the runs of client files known at that point
    expect(s.runs.map((r) => r.incarnation)).toEqual(['i1']);
    expect(describePoint(s)).toBe(`as of dsf.events offset 12, sov.events offset 3, ${formatTime(1_700_000_000_000)}`);
    expect(describePoint({ mode: 'live' })).toBe('live');
  });
});

describe('volumes as strips', () => {
  it('places each run by position and length over the capacity, one colour per client file, with fill and expiry', () => {
    const strips = volumeStrips(
      [
        { volser: 'V1', stream: 'S', streamFile: 'S.1', volumeSeq: 1, device: 'D1', state: 'full', bytes: 750, fill: 0.75, expiresAt: null, clientFiles: [{ incarnation: 'a', clientFile: 'fa', state: 'closed' }] },
        { volser: 'V2', stream: 'S', streamFile: 'S.1', volumeSeq: 2, device: 'D1', state: 'mounted', bytes: 100, clientFiles: [] },
      ],
      [
        { incarnation: 'b', clientFile: 'fb', stream: 'S', state: 'closed', openedAt: 2, superblocks: 1, bytes: 1, volsers: ['V1'], runs: 1 },
        { incarnation: 'a', clientFile: 'fa', stream: 'S', state: 'closed', openedAt: 1, superblocks: 2, bytes: 1, volsers: ['V1'], runs: 2 },
      ],
      [
        { incarnation: 'a', volser: 'V1', position: 500, length: 250, firstSeq: 4, superblocks: 4 },
        { incarnation: 'b', volser: 'V1', position: 250, length: 250, firstSeq: 0, superblocks: 4 },
        { incarnation: 'a', volser: 'V1', position: 0, length: 250, firstSeq: 0, superblocks: 4 },
      ],
      () => 1000,
    );
    expect(strips[0].segments.map((g) => [g.clientFile, g.left, g.width, g.color])).toEqual([
      ['fa', 0, 0.25, 0],
      ['fb', 0.25, 0.25, 1],
      ['fa', 0.5, 0.25, 0],
    ]);
    expect(strips[0].segments[2].title).toBe('fa: superblocks 4–7 at byte 500 (250 B)');
    expect(strips[0]).toMatchObject({ fill: 0.75, expires: 'never', capacity: 1000 });
    expect(strips[1]).toMatchObject({ fill: 0.1, expires: '—', segments: [] });
  });
});

describe('health', () => {
  it('lag rows largest first, with totals per service', () => {
    const h: HealthState = {
      services: [
        { service: 'catalog', url: 'u', up: true, deadLettered: 0, lag: [{ service: 'catalog', group: 'g', topic: 'dsf.events', partition: 0, lag: 3 }, { service: 'catalog', group: 'g', topic: 'dsf.events', partition: 1, lag: 9 }] },
        { service: 'save-writer', url: 'u', up: false, error: 'down', deadLettered: 0, lag: [] },
      ],
      deadLetters: [],
      rejections: [],
      positions: {},
      tail: { ready: true },
      fetchedAt: 0,
    };
    const t = lagTable(h);
    expect(t.rows.map((r) => r.lag)).toEqual([9, 3]);
    expect(t.totals).toEqual([
      { service: 'catalog', lag: 12, partitions: 2 },
      { service: 'save-writer', lag: 0, partitions: 0 },
    ]);
  });
});

describe('formats and the as-of input', () => {
  it('bytes, durations, times', () => {
    expect([formatBytes(undefined), formatBytes(512), formatBytes(2048), formatBytes(17_301_504)]).toEqual(['—', '512 B', '2.00 KiB', '16.5 MiB']);
    expect([formatDuration(undefined), formatDuration(629), formatDuration(1700), formatDuration(125_000)]).toEqual(['—', '629 ms', '1.7 s', '2 min 5 s']);
    expect(formatTime(Date.UTC(2025, 0, 31, 12, 0, 5, 123))).toBe('2025-01-31 12:00:05Z');
    expect(formatTime('nonsense')).toBe('nonsense');
  });

  it('an offset or a time becomes the API query; anything else is refused with the reason', () => {
    expect(asOfQuery({ by: 'offset', offset: ' 42 ' })).toEqual({ query: 'offset=42' });
    expect(asOfQuery({ by: 'offset', offset: '42', sovOffset: '7' })).toEqual({ query: 'offset=42&sovOffset=7' });
    expect(asOfQuery({ by: 'offset', offset: '-1' })).toEqual({ error: expect.stringMatching(/^offset: a whole number/) });
    expect(asOfQuery({ by: 'offset', offset: '1', sovOffset: 'x' })).toEqual({ error: expect.stringMatching(/^sov.events offset/) });
    // a datetime-local value (no zone) is read as UTC, as the page says
    expect(asOfQuery({ by: 'time', time: '2025-01-31T12:00:05' })).toEqual({ query: `time=${encodeURIComponent('2025-01-31T12:00:05.000Z')}` });
    expect(asOfQuery({ by: 'time', time: '2025-01-31T12:00:05+01:00' })).toEqual({ query: `time=${encodeURIComponent('2025-01-31T11:00:05.000Z')}` });
    expect(asOfQuery({ by: 'time', time: 'yesterday' })).toEqual({ error: expect.stringMatching(/^time:/) });
  });
});
