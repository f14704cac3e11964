import { sampleGeometry, type Geometry } from '@deltaflow/blocks';
import { ChangeLog, type UpstreamRecord as Upstream } from './change-log';
import { liveBlocks, type DlogEvent } from './dlog';
import { dlogStateToJSON } from './snapshot';

type DlogMessage = DlogEvent;
type AnyMessage = DlogEvent;

// the sample database of npm start: 4 KiB blocks, ASSO 128, DATA 768, admin ASSO 1..10
const geometry: Geometry = sampleGeometry();
const img = (fill = 1, len = 4096) => Buffer.alloc(len, fill);
const bc = (rabn: number, lsn: number, area: 'ASSO' | 'DATA' = 'DATA', image = img(lsn % 250)): Upstream => ({ type: 'BlockChanged', dbid: 1, area, rabn, lsn, txn: 1, image });
const sync = (lsn: number, syncId = `s${lsn}`): Upstream => ({ type: 'EtSync', dbid: 1, lsn, syncId });

function fresh(): ChangeLog {
  return new ChangeLog([{ dbid: 1, geometry }]);
}

function ingest(cl: ChangeLog, items: Upstream[]) {
  const p = cl.prepare(items);
  p.commit();
  return p;
}

const started = (id: string, startLsn?: number) =>
  ({ type: 'SaveStarted', correlationId: id, dbid: 1, startLsn }) as const;

describe('change log: upstream validation', () => {
  it.each([
    ['UNKNOWN_DBID', { ...bc(1, 2), dbid: 9 } as Upstream, 'dbid'],
    ['RABN_OUT_OF_RANGE', bc(769, 2), 'rabn'],
    ['IMAGE_LENGTH', bc(5, 2, 'DATA', img(1, 512)), 'image'],
    ['LSN_NOT_INCREASING', bc(6, 1), 'lsn'],
    ['VALIDATION', { type: 'UtilityChanged', dbid: 1, lsn: 2, file: 3, parts: ['DATA'] } as Upstream, 'ranges'],
  ])('rejects %s with its reason and leaves the DLOG unchanged', (code, bad, field) => {
    const cl = fresh();
    ingest(cl, [bc(1, 1)]);
    const before = JSON.stringify(dlogStateToJSON(cl.state(1)!));
    const p = ingest(cl, [bad]);
    expect(p.rejected).toEqual([expect.objectContaining({ index: 0, code, field })]);
    expect(p.plog).toEqual([]);
    expect(p.dlog).toEqual([]);
    expect(JSON.stringify(dlogStateToJSON(cl.state(1)!))).toBe(before);
  });

  it('drops exact duplicates, in the same batch and in a later one', () => {
    const cl = fresh();
    const p = ingest(cl, [bc(1, 1), bc(1, 1), bc(2, 2)]);
    expect(p.duplicates).toBe(1);
    expect(p.plog).toHaveLength(2);
    const again = ingest(cl, [bc(1, 1), bc(2, 2)]);
    expect(again.duplicates).toBe(2);
    expect(again.plog).toEqual([]);
    expect(again.dlog).toEqual([]);
  });

  it('a prepared batch that is not committed leaves no trace (a failed publish is retried whole)', () => {
    const cl = fresh();
    cl.prepare([bc(1, 1), sync(2)]);
    const p = ingest(cl, [bc(1, 1), sync(2)]);
    expect(p.duplicates).toBe(0);
    expect(p.plog.map((m) => m.type)).toEqual(['PlogImage', 'PlogSync']);
    expect(p.dlog.map((m) => m.type)).toEqual(['DlogRecorded', 'DlogSyncRecorded']);
  });
});

describe('change log: save lifecycle', () => {
  it('captures at the start sync, with admin blocks and utility-marked blocks in the captured ranges', () => {
    const cl = fresh();
    ingest(cl, [bc(400, 1), { type: 'UtilityChanged', dbid: 1, lsn: 2, file: 1, parts: ['DATA'], ranges: [{ area: 'DATA', from: 5, to: 7 }] }, sync(3), bc(401, 4)]);
    const s = cl.onSaveOutcome(started('save-1', 3));
    s.commit();
    expect(s.dlog).toHaveLength(1);
    const cap = s.dlog[0] as Extract<AnyMessage, { type: 'DlogCaptured' }>;
    expect(cap).toMatchObject({ type: 'DlogCaptured', correlationId: 'save-1', syncLsn: 3 });
    expect(cap.ranges).toEqual([
      { area: 'ASSO', from: 1, to: 10 }, // admin
      { area: 'ASSO', from: 21, to: 60 }, // file 1 index (implied by its ranges)
      { area: 'DATA', from: 5, to: 7 },
      { area: 'DATA', from: 400, to: 400 },
    ]);
    expect([...liveBlocks(cl.state(1)!).DATA]).toEqual([401]);
  });

  it('waits for the sync when SaveStarted arrives before the change stream reaches it', () => {
    const cl = fresh();
    ingest(cl, [bc(1, 1)]);
    const s = cl.onSaveOutcome(started('a', 5));
    s.commit();
    expect(s.dlog).toEqual([expect.objectContaining({ type: 'DlogCaptureAwaited', correlationId: 'a', syncLsn: 5 })]);
    const p = ingest(cl, [bc(2, 4), sync(5)]);
    expect(p.dlog.map((m) => m.type)).toEqual(['DlogRecorded', 'DlogSyncRecorded', 'DlogCaptured']);
  });

  it('a waiting capture survives a restart: rebuilt from dsf.dlog, it is emitted when the stream reaches its sync', () => {
    const cl = fresh();
    const log: DlogMessage[] = [];
    const keep = (out: { dlog: AnyMessage[]; commit(): void }) => {
      out.commit();
      log.push(...(out.dlog as DlogMessage[]));
    };
    keep(ingest(cl, [bc(1, 1)]));
    keep(cl.onSaveOutcome(started('a', 3)));
    // restart: a new change logger folds dsf.dlog back
    const again = fresh();
    for (const m of log) again.replay(m);
    again.finishReplay();
    const nothingYet = again.resumeAwaiting();
    expect(nothingYet.dlog).toEqual([]);
    nothingYet.commit();
    const p = ingest(again, [bc(2, 2), sync(3)]);
    expect(p.dlog.filter((m) => m.type === 'DlogCaptured')).toEqual([expect.objectContaining({ correlationId: 'a', syncLsn: 3 })]);
  });

  it('a waiting capture whose save fails first is withdrawn, also for a change logger rebuilt from dsf.dlog', () => {
    const cl = fresh();
    const log: DlogMessage[] = [];
    const keep = (out: { dlog: AnyMessage[]; commit(): void }) => {
      out.commit();
      log.push(...(out.dlog as DlogMessage[]));
      return out;
    };
    keep(ingest(cl, [bc(1, 1)]));
    keep(cl.onSaveOutcome(started('a', 3)));
    const f = keep(cl.onSaveOutcome({ type: 'SaveFailed', correlationId: 'a', dbid: 1, reason: 'x' }));
    expect(f.dlog).toEqual([expect.objectContaining({ type: 'DlogCaptureWithdrawn', correlationId: 'a' })]);
    const again = fresh();
    for (const m of log) again.replay(m);
    again.finishReplay();
    for (const c of [cl, again]) {
      const p = ingest(c, [bc(2, 2), sync(3)]);
      expect(p.dlog.filter((m) => m.type === 'DlogCaptured')).toEqual([]);
      expect(c.state(1)!.pending).toBeNull();
    }
  });

  it('a capture whose sync was reached just before a crash is emitted on restart', () => {
    const cl = fresh();
    const log: DlogMessage[] = [];
    const out = cl.onSaveOutcome(started('a', 3));
    out.commit();
    log.push(...(out.dlog as DlogMessage[]));
    const p = ingest(cl, [bc(1, 1), sync(3)]);
    // crash after DlogRecorded + DlogSyncRecorded were published, before DlogCaptured
    log.push(...(p.dlog.filter((m) => m.type !== 'DlogCaptured') as DlogMessage[]));
    const again = fresh();
    for (const m of log) again.replay(m);
    again.finishReplay();
    const resumed = again.resumeAwaiting();
    expect(resumed.dlog).toEqual([expect.objectContaining({ type: 'DlogCaptured', correlationId: 'a', syncLsn: 3 })]);
  });

  it('a stopped nucleus is a sync point: an offline save captures exactly at its NucleusState LSN', () => {
    const cl = fresh();
    ingest(cl, [bc(1, 1), sync(2), bc(2, 3)]);
    const off = ingest(cl, [{ type: 'NucleusState', dbid: 1, lsn: 4, active: false, at: 5 }]);
    expect(off.dlog).toEqual([expect.objectContaining({ type: 'DlogSyncRecorded', lsn: 4, syncId: 'inactive@4' })]);
    const s = cl.onSaveOutcome(started('off', 4));
    s.commit();
    const cap = s.dlog[0] as Extract<AnyMessage, { type: 'DlogCaptured' }>;
    expect(cap).toMatchObject({ type: 'DlogCaptured', syncLsn: 4 });
    expect(cap.ranges.filter((r) => r.area === 'DATA')).toEqual([{ area: 'DATA', from: 1, to: 2 }]);
    expect(cl.state(1)!.pending?.exact).toBe(true);
    // the nucleus starting again moves the LSN without a block
    const on = ingest(cl, [{ type: 'NucleusState', dbid: 1, lsn: 5, active: true, at: 6 }]);
    expect(on.dlog).toEqual([expect.objectContaining({ type: 'DlogRecorded', lsn: 5, ranges: [] })]);
  });

  it('completion drops the captured set; failure returns it to the next delta', () => {
    const done = fresh();
    ingest(done, [bc(1, 1), sync(2)]);
    done.onSaveOutcome(started('a', 2)).commit();
    const d = done.onSaveOutcome({ type: 'SaveCompleted', correlationId: 'a', dbid: 1 } as never);
    d.commit();
    expect(d.dlog.map((m) => m.type)).toEqual(['DlogDropped']);
    expect([...liveBlocks(done.state(1)!).DATA]).toEqual([]);

    const failed = fresh();
    ingest(failed, [bc(1, 1), sync(2)]);
    failed.onSaveOutcome(started('a', 2)).commit();
    const f = failed.onSaveOutcome({ type: 'SaveFailed', correlationId: 'a', dbid: 1, reason: 'disk full' });
    f.commit();
    expect(f.dlog).toEqual([expect.objectContaining({ type: 'DlogReturned', correlationId: 'a', reason: 'disk full' })]);
    expect([...liveBlocks(failed.state(1)!).DATA]).toEqual([1]);
    // a redelivered SaveFailed changes nothing
    expect(failed.onSaveOutcome({ type: 'SaveFailed', correlationId: 'a', dbid: 1, reason: 'disk full' }).dlog).toEqual([]);
  });
});

describe('change log: the log is the state', () => {
  it('replaying its own dsf.dlog output rebuilds the same DLOG, and redeliveries after the rebuild are duplicates', () => {
    const live = fresh();
    const log: AnyMessage[] = [];
    const run = (items: Upstream[]) => log.push(...ingest(live, items).dlog);
    run([bc(1, 1), bc(2, 2, 'ASSO'), { type: 'UtilityChanged', dbid: 1, lsn: 3, file: 2, parts: ['AC'] }, sync(4), bc(3, 5)]);
    const s = live.onSaveOutcome(started('a', 4));
    s.commit();
    log.push(...s.dlog);
    run([bc(1, 6), sync(7)]);
    const f = live.onSaveOutcome({ type: 'SaveFailed', correlationId: 'a', dbid: 1, reason: 'x' });
    f.commit();
    log.push(...f.dlog);
    run([bc(9, 8)]);

    const rebuilt = fresh();
    for (const m of log) rebuilt.replay(m as DlogMessage);
    rebuilt.finishReplay();
    expect(dlogStateToJSON(rebuilt.state(1)!)).toEqual(dlogStateToJSON(live.state(1)!));
    expect(rebuilt.lastLsn(1)).toBe(8);
    const again = rebuilt.prepare([bc(3, 5), bc(9, 8), bc(10, 9)]);
    expect(again.duplicates).toBe(2);
    expect(again.plog).toHaveLength(1);
  });
});

describe('change log: a restore into the database itself', () => {
  it('marks every block the restore wrote, so the next delta holds them; a restore elsewhere changes nothing', () => {
    const cl = fresh();
    ingest(cl, [bc(1, 1), sync(2)]);
    expect(cl.onSaveOutcome({ type: 'RestoreCompleted', dbid: 1, correlationId: 'r0', ranges: [{ area: 'DATA', from: 100, to: 110 }] }).dlog).toEqual([]);
    const r = cl.onSaveOutcome({ type: 'RestoreCompleted', dbid: 1, correlationId: 'r1', intoDatabase: true, ranges: [{ area: 'DATA', from: 100, to: 110 }, { area: 'ASSO', from: 1, to: 10 }] });
    r.commit();
    expect(r.dlog).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 2, ranges: [{ area: 'ASSO', from: 1, to: 10 }, { area: 'DATA', from: 100, to: 110 }], marks: [] }]);
    ingest(cl, [sync(3)]);
    const s = cl.onSaveOutcome(started('after', 3));
    const cap = s.dlog[0] as Extract<DlogMessage, { type: 'DlogCaptured' }>;
    expect(cap.ranges).toContainEqual({ area: 'DATA', from: 100, to: 110 });
  });
});
