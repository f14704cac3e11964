import { randomBytes, randomUUID } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { ClientFileSession, codecSpec } from './codec';
import { TapeModelDevice } from './device';
import { SovRejectedError } from './errors';
import type { OpenRecord } from './format';
import { scanVolume } from './scan';
import { admitSuperblock, allocateVolser, foldSov, initialSovState, sovDecider, type SovCommand, type SovEvent, type SovState, type StreamSettings } from './streams';
import { VolumeWriter } from './writer';

const DEFAULTS: StreamSettings = {
  minDevices: 1,
  maxDevices: 2,
  volumeCapacity: 1 << 20,
  runSuperblocks: 16,
  checkpointEveryBytes: 1 << 20,
  compression: 'none',
  encryption: 'none',
};
const T = 1_800_000_000_000;

/** given events, when command, then events (and the state they fold to) */
function given(events: SovEvent[]): { state: SovState; when(c: SovCommand): SovEvent[] } {
  const state = foldSov(initialSovState(), events);
  return { state, when: (c) => sovDecider.decide(c, state) };
}
const decideAndFold = (state: SovState, c: SovCommand) => {
  const events = sovDecider.decide(c, state);
  foldSov(state, events);
  return events;
};
const openRecord = (clientFile: string, incarnation = randomUUID()): OpenRecord => ({ incarnation, clientFile, stream: 'S1', openedAt: T, codec: codecSpec({}) });
const label = (volser: string, sequence = 1) => ({ volser, stream: 'S1', streamFile: 'S1', sequence, createdAt: T, tag: randomBytes(8).toString('hex') });
const rejection = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SovRejectedError) return e.code;
    throw e;
  }
  throw new Error('not rejected');
};

describe('stream decider', () => {
  it('a bare definition gives a working stream: its settings and one device', () => {
    const { when } = given([]);
    expect(when({ type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T })).toEqual([
      { type: 'StreamDefined', stream: 'S1', ...DEFAULTS, occurredAt: T },
      { type: 'DeviceAdded', stream: 'S1', device: 'd1', occurredAt: T },
    ]);
  });

  it('a repeated definition changes nothing; a changed one is a new StreamDefined; min > max is refused', () => {
    const s = initialSovState();
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: { minDevices: 2 }, defaults: DEFAULTS, at: T });
    expect([...s.streams.get('S1')!.devices.keys()]).toEqual(['d1', 'd2']);
    expect(sovDecider.decide({ type: 'DefineStream', stream: 'S1', settings: { minDevices: 2 }, defaults: DEFAULTS, at: T + 1 }, s)).toEqual([]);
    expect(sovDecider.decide({ type: 'DefineStream', stream: 'S1', settings: { minDevices: 2, runSuperblocks: 4 }, defaults: DEFAULTS, at: T + 1 }, s)).toEqual([
      expect.objectContaining({ type: 'StreamDefined', runSuperblocks: 4 }),
    ]);
    expect(rejection(() => sovDecider.decide({ type: 'DefineStream', stream: 'S2', settings: { minDevices: 3, maxDevices: 2 }, defaults: DEFAULTS, at: T }, s))).toBe('CONFLICT');
  });

  it('refuses opens and devices of unknown streams, and a device beyond the maximum', () => {
    const s = initialSovState();
    expect(rejection(() => sovDecider.decide({ type: 'CheckOpen', open: openRecord('a') }, s))).toBe('UNKNOWN_STREAM');
    expect(rejection(() => sovDecider.decide({ type: 'AddDevice', stream: 'S1', device: 'x', at: T }, s))).toBe('UNKNOWN_STREAM');
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    decideAndFold(s, { type: 'AddDevice', stream: 'S1', device: 'tape2', rateBytesPerSec: 1e6, at: T });
    expect(rejection(() => sovDecider.decide({ type: 'AddDevice', stream: 'S1', device: 'tape3', at: T }, s))).toBe('CONFLICT');
    expect(rejection(() => sovDecider.decide({ type: 'RemoveDevice', stream: 'S1', device: 'nope', at: T }, s))).toBe('UNKNOWN_DEVICE');
  });

  it('decides opens, runs and closes only as they become durable, and admits superblocks by sequence', () => {
    const s = initialSovState();
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    const o = openRecord('full-1');
    expect(sovDecider.decide({ type: 'CheckOpen', open: o }, s)).toEqual([]);
    // unknown to the multiplexer: refused; known to it (next = 0): taken
    expect(rejection(() => admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 0 }, null))).toBe('UNKNOWN_CLIENT_FILE');
    expect(admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 0 }, 0)).toBe('accept');
    expect(rejection(() => admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 2 }, 1))).toBe('OUT_OF_SEQUENCE');
    // within the reorder window a later superblock waits for the gap; beyond it, it is refused
    expect(admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 4 }, 1, 8)).toBe('ahead');
    expect(rejection(() => admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 9 }, 1, 8))).toBe('OUT_OF_SEQUENCE');
    decideAndFold(s, { type: 'MountVolume', device: 'd1', label: { ...label('S00001'), capacity: 1 << 20, addressing: 'byte' }, labelled: true, at: T });
    const run = (firstSeq: number, count: number, last: boolean, position: number) => ({
      volser: 'S00001',
      incarnation: o.incarnation,
      firstSeq,
      count,
      last,
      position,
      extent: 100,
      bytes: 10 * count,
      crcs: Array.from({ length: count }, (_, i) => i),
    });
    const events = decideAndFold(s, { type: 'RecordDurable', volser: 'S00001', durable: { opens: [{ record: o, continuation: false }], runs: [run(0, 2, false, 200)], closes: [], aborts: [] }, at: T + 5 });
    expect(events.map((e) => e.type)).toEqual(['ClientFileOpened', 'RunPlaced']);
    expect(events[1]).toMatchObject({ clientFile: 'full-1', volser: 'S00001', firstSeq: 0, superblocks: 2, last: false, position: 200, length: 100, bytes: 20, occurredAt: T + 5 });
    expect(admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 1 }, 2)).toBe('duplicate');
    expect(rejection(() => admitSuperblock(s, { stream: 'S1', clientFile: 'other', incarnation: o.incarnation, seq: 2 }, 2))).toBe('CONFLICT');
    // a run that does not continue its file is a bug of the caller, not an event
    expect(() => sovDecider.decide({ type: 'RecordDurable', volser: 'S00001', durable: { opens: [], runs: [run(3, 1, true, 300)], closes: [], aborts: [] }, at: T }, s)).toThrow(/starts at 3, 2 is next/);
    const close = { incarnation: o.incarnation, superblocks: 3, bytes: 30, sha256: 'a'.repeat(64), closedAt: T + 9 };
    const more = decideAndFold(s, { type: 'RecordDurable', volser: 'S00001', durable: { opens: [], runs: [run(2, 1, true, 300)], closes: [{ record: close }], aborts: [] }, at: T + 9 });
    expect(more.map((e) => e.type)).toEqual(['RunPlaced', 'ClientFileClosed']);
    expect(s.files.get(o.incarnation)).toMatchObject({ status: 'closed', placed: 3, bytes: 30, last: true, volsers: ['S00001'], device: 'd1' });
    expect(admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 2 }, null)).toBe('duplicate');
    expect(rejection(() => admitSuperblock(s, { stream: 'S1', clientFile: 'full-1', incarnation: o.incarnation, seq: 3 }, null))).toBe('CLIENT_FILE_CLOSED');
  });

  it('a failed device leaves its volume suspect and its client files without a device', () => {
    const s = initialSovState();
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    decideAndFold(s, { type: 'MountVolume', device: 'd1', label: { ...label('S00001'), capacity: 1 << 20, addressing: 'byte' }, labelled: true, at: T });
    const o = openRecord('f');
    decideAndFold(s, {
      type: 'RecordDurable',
      volser: 'S00001',
      durable: { opens: [{ record: o, continuation: false }], runs: [{ volser: 'S00001', incarnation: o.incarnation, firstSeq: 0, count: 1, last: false, position: 100, extent: 50, bytes: 5, crcs: [1] }], closes: [], aborts: [] },
      at: T,
    });
    expect(decideAndFold(s, { type: 'FailDevice', stream: 'S1', device: 'd1', reason: 'EIO', position: 150, at: T + 1 })).toEqual([
      { type: 'DeviceFailed', stream: 'S1', device: 'd1', volser: 'S00001', reason: 'EIO', occurredAt: T + 1 },
      { type: 'VolumeSuspect', stream: 'S1', volser: 'S00001', device: 'd1', position: 150, reason: 'EIO', occurredAt: T + 1 },
    ]);
    expect(s.volumes.get('S00001')!.status).toBe('suspect');
    expect(s.files.get(o.incarnation)!.device).toBeNull();
    expect(s.streams.get('S1')!.devices.get('d1')).toMatchObject({ status: 'failed', volser: null });
  });

  it('expires closed client files only, and scratches a finished volume once every client file on it expired', () => {
    const s = initialSovState();
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    decideAndFold(s, { type: 'MountVolume', device: 'd1', label: { ...label('S00001'), capacity: 1 << 20, addressing: 'byte' }, labelled: true, at: T });
    const [a, b] = [openRecord('a'), openRecord('b')];
    const runOf = (o: OpenRecord, position: number) => ({ volser: 'S00001', incarnation: o.incarnation, firstSeq: 0, count: 1, last: true, position, extent: 50, bytes: 5, crcs: [1] });
    const closeOf = (o: OpenRecord) => ({ record: { incarnation: o.incarnation, superblocks: 1, bytes: 5, sha256: 'b'.repeat(64), closedAt: T } });
    decideAndFold(s, { type: 'RecordDurable', volser: 'S00001', durable: { opens: [a, b].map((record) => ({ record, continuation: false })), runs: [runOf(a, 100), runOf(b, 200)], closes: [closeOf(a)], aborts: [] }, at: T });
    expect(rejection(() => sovDecider.decide({ type: 'Expire', incarnation: b.incarnation, at: T }, s))).toBe('NOT_EXPIRABLE');
    decideAndFold(s, { type: 'RecordDurable', volser: 'S00001', durable: { opens: [], runs: [], closes: [closeOf(b)], aborts: [] }, at: T });
    expect(decideAndFold(s, { type: 'Expire', incarnation: a.incarnation, at: T + 1 }).map((e) => e.type)).toEqual(['ClientFileExpired']); // volume still mounted
    decideAndFold(s, { type: 'FinishVolume', volser: 'S00001', bytes: 400, at: T + 2 });
    expect(decideAndFold(s, { type: 'Expire', incarnation: b.incarnation, at: T + 3 })).toEqual([
      { type: 'ClientFileExpired', stream: 'S1', clientFile: 'b', incarnation: b.incarnation, occurredAt: T + 3 },
      { type: 'VolumeScratched', stream: 'S1', volser: 'S00001', occurredAt: T + 3 },
    ]);
    expect(s.volumes.has('S00001')).toBe(false);
    expect(s.files.size).toBe(0);
    expect(allocateVolser(s, 'S')).toBe('S00001'); // back in the pool
    expect(allocateVolser(s, 'S', (v) => v === 'S00001')).toBe('S00002');
  });

  it('reconciles a volume holding more than the events say (a crash between sync and publish), once', async () => {
    const dev = new TapeModelDevice({ capacity: 8 << 20, rateBytesPerSec: 1e9 });
    const s = initialSovState();
    decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    const w = await VolumeWriter.label(dev, label('S00001'));
    decideAndFold(s, { type: 'MountVolume', device: 'd1', label: w.label, labelled: true, at: T });
    const o = openRecord('f');
    const session = ClientFileSession.start(o);
    const sb = async (seq: number, last = false) => {
      const payload = Buffer.alloc(1000, seq);
      return session.encode({ seq, last, payload, crc: crc32c(payload) });
    };
    await w.writeOpen(o);
    await w.appendRun(o, [await sb(0), await sb(1)]);
    decideAndFold(s, { type: 'RecordDurable', volser: 'S00001', durable: await w.sync(), at: T + 1 }); // published
    await w.appendRun(o, [await sb(2), await sb(3, true)]);
    await w.writeClose(o, session.closeRecord({ closedAt: T + 2 }));
    await w.sync(); // crash: durable, never published
    const scan = await scanVolume(dev, 'S00001');
    const events = decideAndFold(s, { type: 'Reconcile', device: 'd1', scan, at: T + 3 });
    expect(events.map((e) => e.type)).toEqual(['RunPlaced', 'ClientFileClosed']);
    expect(events[0]).toMatchObject({ firstSeq: 2, superblocks: 2, last: true });
    expect(s.files.get(o.incarnation)).toMatchObject({ status: 'closed', placed: 4 });
    expect(sovDecider.decide({ type: 'Reconcile', device: 'd1', scan, at: T + 4 }, s)).toEqual([]);

    // an unknown volume (labelled, then the crash before VolumeMounted) is adopted with what it holds
    const fresh = initialSovState();
    decideAndFold(fresh, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T });
    const adopted = decideAndFold(fresh, { type: 'Reconcile', device: 'd1', scan, at: T + 5 });
    expect(adopted.map((e) => e.type)).toEqual(['VolumeMounted', 'ClientFileOpened', 'RunPlaced', 'RunPlaced', 'ClientFileClosed']);
    expect(fresh.files.get(o.incarnation)).toMatchObject({ status: 'closed', placed: 4, volsers: ['S00001'] });
  });

  it('is idempotent: folding a stream of events twice gives the same state', () => {
    const s = initialSovState();
    const all: SovEvent[] = [];
    all.push(...decideAndFold(s, { type: 'DefineStream', stream: 'S1', settings: {}, defaults: DEFAULTS, at: T }));
    all.push(...decideAndFold(s, { type: 'MountVolume', device: 'd1', label: { ...label('S00001'), capacity: 1 << 20, addressing: 'byte' }, labelled: true, at: T }));
    const o = openRecord('f');
    all.push(
      ...decideAndFold(s, {
        type: 'RecordDurable',
        volser: 'S00001',
        durable: { opens: [{ record: o, continuation: false }], runs: [{ volser: 'S00001', incarnation: o.incarnation, firstSeq: 0, count: 2, last: true, position: 100, extent: 50, bytes: 5, crcs: [1, 2] }], closes: [], aborts: [] },
        at: T,
      }),
    );
    const twice = foldSov(foldSov(initialSovState(), all), all);
    expect(twice).toEqual(foldSov(initialSovState(), all));
  });
});
