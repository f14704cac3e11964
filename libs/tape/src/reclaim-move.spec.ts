import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evolveCatalog, initialCatalog, openedEventOf, restoreRuns, type CatalogEvent } from './catalog';
import { FileDevice } from './device';
import { readClientFile } from './reader';
import { readRunForCopy, reclaimCandidates } from './reclaim';
import { scanVolume } from './scan';
import { collect, content, writeStream } from './spec-support';
import { foldSov, initialSovState, sovDecider, type SovEvent, type SovState } from './streams';
import { VolumeWriter, type RunPlacement } from './writer';

const S = 'NIGHTLY';
const inc = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
const opened = (n: number): SovEvent => openedEventOf({ incarnation: inc(n), clientFile: `f${n}`, stream: S, openedAt: 1, codec: { compression: 'none', encryption: 'none' } });
const run = (n: number, volser: string, position: number, extent: number, firstSeq = 0, last = true): SovEvent => ({
  type: 'RunPlaced',
  stream: S,
  clientFile: `f${n}`,
  incarnation: inc(n),
  volser,
  firstSeq,
  superblocks: 1,
  last,
  position,
  length: extent,
  bytes: extent,
  crcs: [n],
  occurredAt: 2,
});
const closed = (n: number, superblocks = 1): SovEvent => ({ type: 'ClientFileClosed', stream: S, clientFile: `f${n}`, incarnation: inc(n), superblocks, bytes: 100, sha256: 'a'.repeat(64), occurredAt: 3 });
const mounted = (volser: string, seq: number): SovEvent => ({ type: 'VolumeMounted', stream: S, volser, device: 'd1', streamFile: S, volumeSeq: seq, labelled: true, occurredAt: 1 });
const rejection = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('reclamation in the stream decider: RunMoved and VolumeScratched', () => {
  // V1 (full): f1 expired, f2 live (two runs), f3 aborted; V2 mounted: where the copies go
  const history = (): SovEvent[] => [
    { type: 'StreamDefined', stream: S, minDevices: 1, maxDevices: 1, volumeCapacity: 1 << 20, runSuperblocks: 4, checkpointEveryBytes: 1 << 16, compression: 'none', encryption: 'none', occurredAt: 0 },
    { type: 'DeviceAdded', stream: S, device: 'd1', occurredAt: 0 },
    mounted('V1', 1),
    ...[1, 2, 3].map(opened),
    run(1, 'V1', 100, 700),
    run(2, 'V1', 800, 50, 0, false),
    run(3, 'V1', 850, 100),
    run(2, 'V1', 950, 50, 1, true),
    closed(1),
    closed(2, 2),
    { type: 'ClientFileAborted', stream: S, clientFile: 'f3', incarnation: inc(3), reason: 'gave up', occurredAt: 3 },
    { type: 'ClientFileExpired', stream: S, clientFile: 'f1', incarnation: inc(1), occurredAt: 4 },
    { type: 'VolumeFull', stream: S, volser: 'V1', bytes: 1000, occurredAt: 4 },
    mounted('V2', 2),
  ];
  const placement = (volser: string, position: number, firstSeq: number, last: boolean): RunPlacement => ({ volser, incarnation: inc(2), firstSeq, count: 1, last, position, extent: 50, bytes: 50, crcs: [2] });
  const decide = (s: SovState, c: Parameters<typeof sovDecider.decide>[0]) => {
    const events = sovDecider.decide(c, s);
    foldSov(s, events);
    return events;
  };

  it('moves exactly the live runs, then scratches the old volume: the expired file is gone, the live one reads from the new volume; a replay changes nothing', () => {
    const s = foldSov(initialSovState(), history());
    const [candidate] = reclaimCandidates(s, S, 50).candidates;
    expect(candidate.liveRuns.map((r) => r.position)).toEqual([800, 950]);
    // nothing is scratched while a live run is left on it, and an expired file's run is never moved
    expect(rejection(() => sovDecider.decide({ type: 'ScratchReclaimed', volser: 'V1', at: 5 }, s))).toMatch(/still holds a live run of f2/);
    expect(rejection(() => sovDecider.decide({ type: 'MoveRuns', moves: [{ fromVolser: 'V1', fromPosition: 100, placement: { ...placement('V2', 10, 0, true), incarnation: inc(1) } }], at: 5 }, s))).toMatch(/expired/);

    const first = decide(s, { type: 'MoveRuns', moves: [{ fromVolser: 'V1', fromPosition: 800, placement: placement('V2', 200, 0, false) }], correlationId: 'c1', at: 5 });
    expect(first).toEqual([expect.objectContaining({ type: 'RunMoved', clientFile: 'f2', fromVolser: 'V1', fromPosition: 800, volser: 'V2', position: 200, firstSeq: 0, correlationId: 'c1' })]);
    expect(s.files.get(inc(2))?.volsers).toEqual(['V1', 'V2']); // its second run is still on V1
    // the same copy decided again (a re-sent command, a replay) is nothing new
    expect(decide(s, { type: 'MoveRuns', moves: [{ fromVolser: 'V1', fromPosition: 800, placement: placement('V2', 200, 0, false) }], at: 6 })).toEqual([]);
    decide(s, { type: 'MoveRuns', moves: [{ fromVolser: 'V1', fromPosition: 950, placement: placement('V2', 260, 1, true) }], at: 6 });
    expect(s.files.get(inc(2))?.volsers).toEqual(['V2']);
    expect(s.volumes.get('V1')?.runs.map((r) => r.incarnation)).toEqual([inc(1), inc(3)]);
    expect(s.volumes.get('V2')?.runs.map((r) => [r.position, r.firstSeq])).toEqual([
      [200, 0],
      [260, 1],
    ]);
    expect(reclaimCandidates(s, S, 50).candidates[0]).toMatchObject({ volser: 'V1', liveBytes: 0, liveRuns: [] });

    const scratched = decide(s, { type: 'ScratchReclaimed', volser: 'V1', at: 7 });
    expect(scratched).toEqual([{ type: 'VolumeScratched', stream: S, volser: 'V1', occurredAt: 7 }]);
    expect(s.volumes.has('V1')).toBe(false);
    expect(s.files.has(inc(1))).toBe(false); // expired and on no volume: gone, as a scan would not find it
    expect(s.files.get(inc(3))?.status).toBe('aborted');
    expect(decide(s, { type: 'ScratchReclaimed', volser: 'V1', at: 8 })).toEqual([]);

    // the fold of the log holding every event twice is the same state
    const log = [...history(), ...first, ...first];
    const again = foldSov(initialSovState(), log);
    decide(again, { type: 'MoveRuns', moves: [{ fromVolser: 'V1', fromPosition: 950, placement: placement('V2', 260, 1, true) }], at: 6 });
    foldSov(again, scratched);
    foldSov(again, scratched);
    expect([...again.files.keys()].sort()).toEqual([...s.files.keys()].sort());
    expect(again.files.get(inc(2))?.volsers).toEqual(['V2']);
    expect(again.volumes.get('V2')?.runs).toEqual(s.volumes.get('V2')?.runs);
  });

  it('the catalog fold follows: the restore reads the moved runs; a run split over two volumes is forgotten on the old one only with its last piece', () => {
    const c = initialCatalog();
    const ev = (e: SovEvent) => evolveCatalog(c, e as unknown as CatalogEvent);
    history().forEach(ev);
    const moved = (fromPosition: number, p: RunPlacement): CatalogEvent => ({ type: 'RunMoved', fromVolser: 'V1', fromPosition, volser: p.volser, incarnation: p.incarnation, firstSeq: p.firstSeq, superblocks: p.count, last: p.last, position: p.position, length: p.extent, bytes: p.bytes, crcs: p.crcs });
    evolveCatalog(c, moved(800, placement('V2', 200, 0, false)));
    evolveCatalog(c, moved(950, placement('V2', 260, 1, true)));
    evolveCatalog(c, moved(950, placement('V2', 260, 1, true)));
    expect(restoreRuns(c.files.get(inc(2))!).map((r) => `${r.volser}@${r.position}`)).toEqual(['V2@200', 'V2@260']);
    evolveCatalog(c, { type: 'VolumeScratched', volser: 'V1' });
    expect(c.files.has(inc(1))).toBe(false);
    expect([...c.files.get(inc(2))!.runs.keys()]).toEqual(['V2@200', 'V2@260']);

    // split: a run of 2 superblocks at V1@800 copied as two pieces
    const d = initialCatalog();
    evolveCatalog(d, openedEventOf({ incarnation: inc(4), clientFile: 'f4', stream: S, openedAt: 1, codec: { compression: 'none', encryption: 'none' } }));
    evolveCatalog(d, { type: 'RunPlaced', incarnation: inc(4), volser: 'V1', firstSeq: 0, superblocks: 2, last: true, position: 800, length: 100, bytes: 100, crcs: [1, 2] });
    const piece = (volser: string, firstSeq: number, last: boolean): CatalogEvent => ({ type: 'RunMoved', fromVolser: 'V1', fromPosition: 800, volser, incarnation: inc(4), firstSeq, superblocks: 1, last, position: 10, length: 50, bytes: 50, crcs: [firstSeq + 1] });
    evolveCatalog(d, piece('V2', 0, false));
    expect([...d.files.get(inc(4))!.runs.keys()].sort()).toEqual(['V1@800', 'V2@10']);
    expect(restoreRuns(d.files.get(inc(4))!).map((r) => `${r.volser}@${r.position}:${r.from}-${r.to}`)).toEqual(['V1@800:0-1']);
    evolveCatalog(d, piece('V3', 1, true));
    expect([...d.files.get(inc(4))!.runs.keys()].sort()).toEqual(['V2@10', 'V3@10']);
  });

  it('an encrypted stream is refused where the multiplexer has no operator key', () => {
    const s = initialSovState();
    const defaults = { minDevices: 1, maxDevices: 1, volumeCapacity: 1 << 20, runSuperblocks: 4, checkpointEveryBytes: 1 << 16, compression: 'none' as const, encryption: 'none' as const };
    const refused = () => sovDecider.decide({ type: 'DefineStream', stream: S, settings: { encryption: 'aes-256-gcm' }, defaults, operatorKey: false, at: 1 }, s);
    expect(rejection(refused)).toMatch(/encryption aes-256-gcm asked, but the stream multiplexer has no operator key \(set SOV_OPERATOR_KEY_FILE\)/);
    try {
      refused();
    } catch (e) {
      expect((e as { code: string }).code).toBe('NO_OPERATOR_KEY');
    }
    expect(s.streams.size).toBe(0);
    expect(sovDecider.decide({ type: 'DefineStream', stream: S, settings: { encryption: 'aes-256-gcm' }, defaults, operatorKey: true, at: 1 }, s)[0]).toMatchObject({ type: 'StreamDefined', encryption: 'aes-256-gcm' });
    expect(sovDecider.decide({ type: 'DefineStream', stream: S, settings: {}, defaults, operatorKey: false, at: 1 }, s)[0]).toMatchObject({ type: 'StreamDefined', encryption: 'none' });
  });
});

describe('copying runs onto another volume (readRunForCopy)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reclaim-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('moved encrypted and compressed superblocks still authenticate and restore byte-identical; a scan finds the file whole on the new volume; the restart reconcile records a copy whose RunMoved was lost', async () => {
    const dev = new FileDevice({ dir, capacity: 64 << 20 });
    const key = randomBytes(32);
    const files = [
      { name: 'enc', data: content('enc', 900_000), operatorKey: key, compression: 'zstd' as const },
      { name: 'plain', data: content('plain', 600_000) },
    ];
    const w = await writeStream(dev, files, { k: 2 });
    const incEnc = w.byName.get('enc')!;
    const open = w.opens.get(incEnc)!;
    const oldRuns = w.placements.filter((p) => p.incarnation === incEnc);
    expect(oldRuns.length).toBeGreaterThan(1);

    // the stream's state as the multiplexer folds it, then the copies onto a new volume V9
    const sov: SovEvent[] = [
      { type: 'StreamDefined', stream: 'NIGHTLY', minDevices: 1, maxDevices: 1, volumeCapacity: 64 << 20, runSuperblocks: 2, checkpointEveryBytes: 64 << 20, compression: 'none', encryption: 'none', occurredAt: 0 },
      { type: 'DeviceAdded', stream: 'NIGHTLY', device: 'd1', occurredAt: 0 },
    ];
    const names = new Map([...w.opens.values()].map((o) => [o.incarnation, o.clientFile]));
    for (const e of w.events) {
      if (e.type === 'VolumeMounted') sov.push({ ...e, device: 'd1', labelled: true, occurredAt: 1 });
      else if (e.type === 'ClientFileOpened') sov.push(e as SovEvent);
      else if (e.type === 'RunPlaced') sov.push({ ...e, stream: 'NIGHTLY', clientFile: names.get(e.incarnation)!, occurredAt: 2 });
      else if (e.type === 'ClientFileClosed') sov.push({ ...e, stream: 'NIGHTLY', clientFile: names.get(e.incarnation)! });
      else if (e.type === 'VolumeFull') sov.push({ type: 'VolumeFull', stream: 'NIGHTLY', volser: e.volser, bytes: 1, occurredAt: 3 });
    }
    const state = foldSov(initialSovState(), sov);
    const target = await VolumeWriter.label(dev, { volser: 'V9', stream: 'NIGHTLY', streamFile: 'SF1', sequence: 9, createdAt: 1, tag: randomBytes(8).toString('hex') });
    foldSov(state, [{ type: 'VolumeMounted', stream: 'NIGHTLY', volser: 'V9', device: 'd1', streamFile: 'SF1', volumeSeq: 9, labelled: true, occurredAt: 4 }]);
    const reader = new FileDevice({ dir, capacity: 64 << 20, readOnly: true });
    const moved: RunPlacement[] = [];
    for (const r of oldRuns) {
      const sbs = await readRunForCopy(reader, r.volser, { incarnation: r.incarnation, firstSeq: r.firstSeq, count: r.count, position: r.position, extent: r.extent, bytes: r.bytes });
      const { placement, rest } = await target.appendRun(open, sbs);
      expect(rest).toEqual([]);
      moved.push(placement!);
    }
    await target.writeClose(open, state.files.get(incEnc)!.close!);
    const durable = await target.sync();
    expect(durable.runs.map((r) => r.position)).toEqual(moved.map((r) => r.position));
    expect(moved.map((r) => r.crcs)).toEqual(oldRuns.map((r) => r.crcs));
    await dev.unmount();

    // restored from the new volume alone, with the operator key: the same bytes
    expect(await collect(readClientFile(reader, open, moved, { keyring: key, close: state.files.get(incEnc)!.close! }))).toEqual(files[0].data);
    // the new volume describes the file whole (open, runs, close)
    const scan = await scanVolume(reader, 'V9');
    expect(scan.opens.map((o) => o.record.incarnation)).toEqual([incEnc]);
    expect(scan.closes.map((c) => c.record.incarnation)).toEqual([incEnc]);
    expect(scan.runs.map((r) => r.position)).toEqual(moved.map((r) => r.position));

    // a crash after the sync, before RunMoved was published: the reconcile at the restart records the moves, once
    const reconciled = sovDecider.decide({ type: 'Reconcile', device: 'd1', scan, at: 5 }, state);
    expect(reconciled.filter((e) => e.type === 'RunMoved').map((e) => e.type === 'RunMoved' && [e.fromVolser, e.fromPosition, e.position])).toEqual(oldRuns.map((r, i) => [r.volser, r.position, moved[i].position]));
    expect(reconciled.filter((e) => e.type === 'RunPlaced' || e.type === 'ClientFileOpened' || e.type === 'ClientFileClosed')).toEqual([]);
    foldSov(state, reconciled);
    expect(sovDecider.decide({ type: 'Reconcile', device: 'd1', scan, at: 6 }, state).filter((e) => e.type === 'RunMoved')).toEqual([]);
    expect(state.files.get(incEnc)!.volsers).toEqual(['V9']);
    await reader.unmount();
  });
});
