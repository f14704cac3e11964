import type { Decider } from '@deltaflow/core';
import { openedEventOf, type RunFacts } from './catalog';
import { SovRejectedError, TapeStateError } from './errors';
import type { AbortRecord, CloseRecord, CodecSpec, OpenRecord, RunEntry, VolumeLabel } from './format';
import { assertVolser } from './names';
import type { VolumeScan } from './scan';
import type { Stamped, VerificationEvent } from './verification';
import type { RunPlacement } from './writer';
import { evolveSov } from './sov-fold';
export { foldSov, noteFileOnVolume } from './sov-fold';

/*
 * The stream multiplexer's state as a decider (seed: ExHPDM's streams, devices, volumes and client
 * files). Commands are what the multiplexer asks (define a stream, add or fail a device, mount a
 * volume, record what a device sync made durable, expire a client file, reconcile a volume found
 * after a crash); events are the sov.events messages, field for field, so the service publishes
 * them as they are and rebuilds its state by folding the topic with `evolve`.
 *
 * Placement facts are decided only once they are durable on a volume: ClientFileOpened when the
 * client file's open record is, RunPlaced per run after the device sync, ClientFileClosed once the
 * close record is. So a fold of sov.events never says more than the volumes hold, and a crash
 * between a sync and the publication is repaired by `Reconcile` (what the volume holds beyond the
 * events becomes events; nothing is written twice).
 *
 * `evolve` changes the state in place (Maps of thousands of client files) and returns it.
 */

/** How a stream runs; every field has a default in the multiplexer's configuration. */
export interface StreamSettings {
  readonly minDevices: number;
  readonly maxDevices: number;
  /** bytes/s the stream should sustain; the balancer adds devices when the backlog exceeds it */
  readonly objectiveBytesPerSec?: number;
  readonly volumeCapacity: number;
  readonly deviceRateBytesPerSec?: number;
  /** superblocks per run (K) */
  readonly runSuperblocks: number;
  readonly checkpointEveryBytes: number;
  readonly compression: CodecSpec['compression'];
  readonly encryption: CodecSpec['encryption'];
}


/** The sov.events messages (libs/contracts sov.ts), as the decider decides them. */
export type SovEvent =
  | Stamped<{ readonly type: 'StreamDefined' } & StreamSettings>
  | Stamped<{ readonly type: 'DeviceAdded'; readonly device: string; readonly rateBytesPerSec?: number }>
  | Stamped<{ readonly type: 'DeviceRemoved'; readonly device: string; readonly reason?: string }>
  | Stamped<{ readonly type: 'DeviceFailed'; readonly device: string; readonly volser?: string; readonly reason: string }>
  | Stamped<{ readonly type: 'StreamServed' | 'StreamReleased'; readonly instance: string }>
  | ReturnType<typeof openedEventOf>
  | Stamped<{ readonly type: 'ClientFileClosed'; readonly clientFile: string; readonly incarnation: string; readonly superblocks: number; readonly bytes: number; readonly sha256: string }>
  | Stamped<{ readonly type: 'ClientFileAborted'; readonly clientFile: string; readonly incarnation: string; readonly reason: string }>
  | Stamped<{ readonly type: 'RunPlaced'; readonly clientFile: string } & RunFacts>
  | Stamped<{
      readonly type: 'VolumeMounted';
      readonly volser: string;
      readonly device: string;
      readonly streamFile: string;
      readonly volumeSeq: number;
      readonly previousVolser?: string;
      readonly labelled: boolean;
    }>
  | Stamped<{ readonly type: 'VolumeFull'; readonly volser: string; readonly bytes: number; readonly nextVolser?: string }>
  | Stamped<{ readonly type: 'VolumeSuspect'; readonly volser: string; readonly device?: string; readonly position?: number; readonly reason: string }>
  | Stamped<{ readonly type: 'VolumeScratched'; readonly volser: string }>
  | Stamped<{ readonly type: 'ClientFileExpired'; readonly clientFile: string; readonly incarnation: string }>
  | RunMovedEvent
  | ReclaimReport
  | VerificationEvent;

/** A run copied by reclamation from (fromVolser, fromPosition) to (volser, position): one per piece when it was split over two volumes. */
export type RunMovedEvent = Stamped<{ readonly type: 'RunMoved'; readonly clientFile: string; readonly fromVolser: string; readonly fromPosition: number; readonly correlationId?: string } & RunFacts>;

/** The outcome of a reclamation (VolumesReclaimed): reported, changes no state. */
export type ReclaimReport = Stamped<{
  readonly type: 'VolumesReclaimed';
  readonly thresholdPercent: number;
  readonly dryRun: boolean;
  readonly ok: boolean;
  readonly volumes: ReadonlyArray<{
    readonly volser: string;
    readonly size: number;
    readonly liveBytes: number;
    readonly runs: number;
    readonly moved: number;
    readonly outcome: 'scratched' | 'candidate' | 'failed';
    readonly reason?: string;
  }>;
  readonly skipped: ReadonlyArray<{ readonly volser: string; readonly reason: string }>;
  readonly runsMoved: number;
  readonly correlationId?: string;
}>;

/** A run copied by reclamation: where it was (a run on `fromVolser` at `fromPosition`) and the piece of it now durable elsewhere. */
export interface RunMove {
  readonly fromVolser: string;
  readonly fromPosition: number;
  readonly placement: RunPlacement;
}

export type SovEventOf<T extends SovEvent['type']> = Extract<SovEvent, { type: T }>;

export interface DeviceState {
  readonly name: string;
  rateBytesPerSec?: number;
  status: 'active' | 'failed' | 'removed';
  /** the volume mounted for appending, if any */
  volser: string | null;
}

export interface StreamState {
  readonly name: string;
  settings: StreamSettings;
  readonly devices: Map<string, DeviceState>;
  /** highest volume sequence number used in the stream file */
  volumeSeq: number;
  /** the multiplexer instance serving (writing) the stream, until it releases it (serving.ts) */
  servedBy?: string | null;
}

export interface VolumeState {
  readonly volser: string;
  readonly stream: string;
  readonly streamFile: string;
  readonly sequence: number;
  readonly previousVolser: string | null;
  nextVolser: string | null;
  /** the device that labelled or last mounted it */
  device: string;
  /** mounted: open for appending; full: finished (trailer written); suspect: not to be appended to */
  status: 'mounted' | 'full' | 'suspect';
  /** position after the last placed run (or the volume's bytes once full) */
  end: number;
  /** client files with a record on the volume */
  readonly files: Set<string>;
  /** the runs placed on it (RunPlaced), in position order: what verification compares the records with */
  readonly runs: VolumeRun[];
  suspect?: { readonly position?: number; readonly reason: string };
}

/** A run as sov.events placed it on a volume. */
export interface VolumeRun {
  readonly incarnation: string;
  readonly firstSeq: number;
  readonly count: number;
  readonly position: number;
  readonly extent: number;
  readonly bytes: number;
}

export interface FileState {
  readonly incarnation: string;
  readonly stream: string;
  readonly clientFile: string;
  readonly open: OpenRecord;
  status: 'open' | 'closed' | 'aborted';
  expired: boolean;
  /** superblocks 0..placed-1 are placed */
  placed: number;
  /** plaintext bytes placed */
  bytes: number;
  /** the last superblock is placed */
  last: boolean;
  /** volumes holding its runs, in placement order */
  readonly volsers: string[];
  /** the device whose volume chain holds it (of its last volume) */
  device: string | null;
  close: CloseRecord | null;
  abort: AbortRecord | null;
}

export interface SovState {
  readonly streams: Map<string, StreamState>;
  readonly volumes: Map<string, VolumeState>;
  readonly files: Map<string, FileState>;
  /** `${stream}/${clientFile}` → its latest incarnation */
  readonly names: Map<string, string>;
}

/** What one device sync made durable (VolumeWriter.sync / finish). */
export interface DurableRecords {
  readonly runs: readonly RunPlacement[];
  readonly opens: ReadonlyArray<{ readonly record: OpenRecord; readonly continuation: boolean }>;
  readonly closes: ReadonlyArray<{ readonly record: CloseRecord }>;
  readonly aborts: ReadonlyArray<{ readonly record: AbortRecord }>;
}

export type SovCommand =
  /** `operatorKey`: whether the deciding multiplexer has an operator key (an encrypted stream is refused without one) */
  | { readonly type: 'DefineStream'; readonly stream: string; readonly settings: Partial<StreamSettings>; readonly defaults: StreamSettings; readonly operatorKey?: boolean; readonly at: number }
  | { readonly type: 'AddDevice'; readonly stream: string; readonly device: string; readonly rateBytesPerSec?: number; readonly at: number }
  | { readonly type: 'RemoveDevice'; readonly stream: string; readonly device: string; readonly reason?: string; readonly at: number }
  /** an instance serves the stream from now / stops serving it (serving.ts decides when it may) */
  | { readonly type: 'ServeStream' | 'ReleaseStream'; readonly stream: string; readonly instance: string; readonly at: number }
  | { readonly type: 'FailDevice'; readonly stream: string; readonly device: string; readonly reason: string; readonly position?: number; readonly at: number }
  /** validation only: may this client file be opened? (its open event comes when its open record is durable) */
  | { readonly type: 'CheckOpen'; readonly open: OpenRecord }
  | { readonly type: 'MountVolume'; readonly device: string; readonly label: VolumeLabel; readonly labelled: boolean; readonly at: number }
  | { readonly type: 'FinishVolume'; readonly volser: string; readonly bytes: number; readonly nextVolser?: string | null; readonly at: number }
  | { readonly type: 'RecordDurable'; readonly volser: string; readonly durable: DurableRecords; readonly at: number }
  /** a client file given up with nothing of it on any volume (its open record never became durable) */
  | { readonly type: 'AbortUnwritten'; readonly incarnation: string; readonly stream: string; readonly clientFile: string; readonly reason: string; readonly at: number }
  | { readonly type: 'Expire'; readonly incarnation: string; readonly at: number }
  | { readonly type: 'Reconcile'; readonly device: string; readonly scan: VolumeScan; readonly at: number }
  | { readonly type: 'ReportDamage'; readonly volser: string; readonly device?: string; readonly position?: number; readonly reason: string; readonly at: number }
  /** validation only: is the stream defined? */
  | { readonly type: 'CheckStream'; readonly stream: string }
  /** a verification's outcome, to be published (checked against the state: the volume or client file must be known) */
  | { readonly type: 'ReportVerification'; readonly event: VerificationEvent }
  /** reclamation: copies of live runs made durable (RunMoved per piece not recorded yet) */
  | { readonly type: 'MoveRuns'; readonly moves: readonly RunMove[]; readonly correlationId?: string; readonly at: number }
  /** reclamation: the volume's live runs are all moved; it returns to scratch (VolumeScratched), refused while a live run is left on it */
  | { readonly type: 'ScratchReclaimed'; readonly volser: string; readonly at: number }
  /** reclamation's outcome, to be published (the stream must be known) */
  | { readonly type: 'ReportReclaim'; readonly event: ReclaimReport };

export function initialSovState(): SovState {
  return { streams: new Map(), volumes: new Map(), files: new Map(), names: new Map() };
}


function sameSettings(a: StreamSettings, b: StreamSettings): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof StreamSettings>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function stream(state: SovState, name: string): StreamState {
  const s = state.streams.get(name);
  if (!s) throw new SovRejectedError('UNKNOWN_STREAM', `stream ${name} is not defined (send StreamDefine first)`, 'stream');
  return s;
}

function fileOf(state: SovState, incarnation: string): FileState {
  const f = state.files.get(incarnation);
  if (!f) throw new SovRejectedError('UNKNOWN_CLIENT_FILE', `no client file with incarnation ${incarnation}`, 'incarnation');
  return f;
}

/** The device names of a stream that take new client files. */
export function activeDevices(s: StreamState): DeviceState[] {
  return [...s.devices.values()].filter((d) => d.status === 'active');
}

/** A name for a new device of a stream: d1, d2, … (the lowest not used). */
export function nextDeviceName(s: StreamState): string {
  for (let i = 1; ; i++) if (!s.devices.has(`d${i}`)) return `d${i}`;
}

/**
 * The volser to label next: `prefix` + the lowest number, zero-padded to six characters, that no
 * live volume uses and `taken` (a file already there) does not refuse. Scratched volsers are reused.
 */
export function allocateVolser(state: SovState, prefix: string, taken: (volser: string) => boolean = () => false): string {
  const digits = 6 - prefix.length;
  if (!/^[A-Z]{1,5}$/.test(prefix)) throw new TapeStateError(`volser prefix ${JSON.stringify(prefix)} must be 1-5 letters A-Z`);
  const limit = 10 ** digits;
  for (let n = 1; n < limit; n++) {
    const v = `${prefix}${String(n).padStart(digits, '0')}`;
    if (!state.volumes.has(v) && !taken(v)) {
      assertVolser(v);
      return v;
    }
  }
  throw new TapeStateError(`volume pool ${prefix}: no scratch volser left (${limit - 1} in use)`);
}

/**
 * Whether a superblock may be taken for placement: 'accept' (the next expected), 'ahead' (within
 * `window` after it: produce requests of one writer in flight together may land out of order, and
 * it waits for the gap to fill), 'duplicate' (placed or already taken: a redelivery), or a
 * SovRejectedError. `next` is the next sequence number the multiplexer holds for the file (≥ its
 * placed count); null when the file is unknown to it.
 */
export function admitSuperblock(
  state: SovState,
  sb: { readonly stream: string; readonly clientFile: string; readonly incarnation: string; readonly seq: number },
  next: number | null,
  window = 0,
): 'accept' | 'ahead' | 'duplicate' {
  const f = state.files.get(sb.incarnation);
  if (f) {
    if (f.stream !== sb.stream || f.clientFile !== sb.clientFile)
      throw new SovRejectedError('CONFLICT', `incarnation ${sb.incarnation} is client file ${f.stream}/${f.clientFile}, not ${sb.stream}/${sb.clientFile}`, 'incarnation');
    if (sb.seq < f.placed) return 'duplicate';
    if (f.status === 'aborted') throw new SovRejectedError('CLIENT_FILE_ABORTED', `client file ${f.clientFile} (${f.incarnation}) was aborted: ${f.abort?.reason ?? ''}`, 'incarnation');
    if (f.status === 'closed') throw new SovRejectedError('CLIENT_FILE_CLOSED', `client file ${f.clientFile} (${f.incarnation}) is closed with ${f.placed} superblocks; superblock ${sb.seq} comes after it`, 'seq');
    if (f.last) throw new SovRejectedError('OUT_OF_SEQUENCE', `client file ${f.clientFile}: superblock ${sb.seq} after its last (${f.placed - 1})`, 'seq');
  } else {
    stream(state, sb.stream);
  }
  if (next === null) throw new SovRejectedError('UNKNOWN_CLIENT_FILE', `no open client file ${sb.stream}/${sb.clientFile} with incarnation ${sb.incarnation}`, 'incarnation');
  if (sb.seq < next) return 'duplicate';
  if (sb.seq > next && sb.seq < next + window) return 'ahead';
  if (sb.seq > next) throw new SovRejectedError('OUT_OF_SEQUENCE', `client file ${sb.clientFile}: superblock ${sb.seq} arrived, expected ${next}${window ? ` (within ${window})` : ''}`, 'seq');
  return 'accept';
}

function decide(c: SovCommand, state: SovState): SovEvent[] {
  switch (c.type) {
    case 'DefineStream': {
      const settings = strip({ ...c.defaults, ...strip(c.settings) }) as StreamSettings;
      if (settings.minDevices > settings.maxDevices)
        throw new SovRejectedError('CONFLICT', `stream ${c.stream}: minDevices ${settings.minDevices} exceeds maxDevices ${settings.maxDevices}`, 'maxDevices');
      if (settings.encryption !== 'none' && c.operatorKey === false)
        throw new SovRejectedError('NO_OPERATOR_KEY', `stream ${c.stream}: encryption ${settings.encryption} asked, but the stream multiplexer has no operator key (set SOV_OPERATOR_KEY_FILE); nothing written could be encrypted`, 'encryption');
      const s = state.streams.get(c.stream);
      const out: SovEvent[] = [];
      if (!s || !sameSettings(s.settings, settings)) out.push({ type: 'StreamDefined', stream: c.stream, ...settings, occurredAt: c.at });
      // A bare definition gives a working stream: devices up to minDevices (d1, d2, …)
      const have = s ? activeDevices(s).length : 0;
      const names = new Set(s ? s.devices.keys() : []);
      for (let i = 1, added = 0; have + added < settings.minDevices; i++) {
        const name = `d${i}`;
        if (names.has(name)) continue;
        out.push({ type: 'DeviceAdded', stream: c.stream, device: name, ...(settings.deviceRateBytesPerSec ? { rateBytesPerSec: settings.deviceRateBytesPerSec } : {}), occurredAt: c.at });
        added++;
      }
      return out;
    }
    case 'AddDevice': {
      const s = stream(state, c.stream);
      const d = s.devices.get(c.device);
      if (d?.status === 'active' && d.rateBytesPerSec === c.rateBytesPerSec) return [];
      if (activeDevices(s).length >= s.settings.maxDevices && d?.status !== 'active')
        throw new SovRejectedError('CONFLICT', `stream ${c.stream} already has its maximum of ${s.settings.maxDevices} devices`, 'device');
      return [{ type: 'DeviceAdded', stream: c.stream, device: c.device, ...(c.rateBytesPerSec ? { rateBytesPerSec: c.rateBytesPerSec } : {}), occurredAt: c.at }];
    }
    case 'RemoveDevice': {
      const s = stream(state, c.stream);
      const d = s.devices.get(c.device);
      if (!d) throw new SovRejectedError('UNKNOWN_DEVICE', `stream ${c.stream} has no device ${c.device}`, 'device');
      if (d.status === 'removed') return [];
      return [{ type: 'DeviceRemoved', stream: c.stream, device: c.device, ...(c.reason ? { reason: c.reason } : {}), occurredAt: c.at }];
    }
    case 'ServeStream':
    case 'ReleaseStream': {
      const s = stream(state, c.stream);
      const serving = c.type === 'ServeStream';
      if ((s.servedBy === c.instance) === serving) return [];
      return [{ type: serving ? 'StreamServed' : 'StreamReleased', stream: c.stream, instance: c.instance, occurredAt: c.at }];
    }
    case 'FailDevice': {
      const s = stream(state, c.stream);
      const d = s.devices.get(c.device);
      if (!d) throw new SovRejectedError('UNKNOWN_DEVICE', `stream ${c.stream} has no device ${c.device}`, 'device');
      const out: SovEvent[] = [{ type: 'DeviceFailed', stream: c.stream, device: c.device, ...(d.volser ? { volser: d.volser } : {}), reason: c.reason, occurredAt: c.at }];
      if (d.volser && state.volumes.get(d.volser)?.status === 'mounted')
        out.push({ type: 'VolumeSuspect', stream: c.stream, volser: d.volser, device: c.device, ...(c.position !== undefined ? { position: c.position } : {}), reason: c.reason, occurredAt: c.at });
      return out;
    }
    case 'CheckOpen': {
      const o = c.open;
      const s = stream(state, o.stream);
      if (activeDevices(s).length === 0) throw new SovRejectedError('UNKNOWN_DEVICE', `stream ${o.stream} has no active device`, 'stream');
      const f = state.files.get(o.incarnation);
      if (f && (f.stream !== o.stream || f.clientFile !== o.clientFile))
        throw new SovRejectedError('CONFLICT', `incarnation ${o.incarnation} is client file ${f.stream}/${f.clientFile} already`, 'incarnation');
      return [];
    }
    case 'MountVolume': {
      const l = c.label;
      const s = stream(state, l.stream);
      if (!s.devices.has(c.device)) throw new SovRejectedError('UNKNOWN_DEVICE', `stream ${l.stream} has no device ${c.device}`, 'device');
      const v = state.volumes.get(l.volser);
      if (v && v.device === c.device && v.status === 'mounted' && s.devices.get(c.device)?.volser === l.volser) return [];
      return [
        {
          type: 'VolumeMounted',
          stream: l.stream,
          volser: l.volser,
          device: c.device,
          streamFile: l.streamFile,
          volumeSeq: l.sequence,
          ...(l.previousVolser ? { previousVolser: l.previousVolser } : {}),
          labelled: c.labelled,
          occurredAt: c.at,
        },
      ];
    }
    case 'FinishVolume': {
      const v = state.volumes.get(c.volser);
      if (!v) throw new TapeStateError(`volume ${c.volser} was never mounted`);
      if (v.status === 'full') return [];
      return [{ type: 'VolumeFull', stream: v.stream, volser: c.volser, bytes: c.bytes, ...(c.nextVolser ? { nextVolser: c.nextVolser } : {}), occurredAt: c.at }];
    }
    case 'RecordDurable':
      return durableEvents(state, c.volser, c.durable, c.at, new Map());
    case 'AbortUnwritten': {
      const f = state.files.get(c.incarnation);
      if (f && f.status !== 'open') return [];
      if (f && f.volsers.length > 0) throw new TapeStateError(`client file ${c.incarnation} has runs placed: abort it on its volume`);
      return [{ type: 'ClientFileAborted', stream: c.stream, clientFile: c.clientFile, incarnation: c.incarnation, reason: c.reason, occurredAt: c.at }];
    }
    case 'Expire': {
      const f = fileOf(state, c.incarnation);
      if (f.expired) return [];
      if (f.status === 'open') throw new SovRejectedError('NOT_EXPIRABLE', `client file ${f.clientFile} (${f.incarnation}) is still open`, 'incarnation');
      const out: SovEvent[] = [{ type: 'ClientFileExpired', stream: f.stream, clientFile: f.clientFile, incarnation: f.incarnation, occurredAt: c.at }];
      for (const v of scratchable(state, f.incarnation)) out.push({ type: 'VolumeScratched', stream: v.stream, volser: v.volser, occurredAt: c.at });
      return out;
    }
    case 'Reconcile':
      return reconcile(state, c.device, c.scan, c.at);
    case 'ReportDamage': {
      const v = state.volumes.get(c.volser);
      if (!v) return [];
      return [
        {
          type: 'VolumeSuspect',
          stream: v.stream,
          volser: c.volser,
          ...(c.device ? { device: c.device } : {}),
          ...(c.position !== undefined ? { position: c.position } : {}),
          reason: c.reason,
          occurredAt: c.at,
        },
      ];
    }
    case 'CheckStream':
      stream(state, c.stream);
      return [];
    case 'ReportVerification': {
      const e = c.event;
      stream(state, e.stream);
      return [e];
    }
    case 'MoveRuns':
      return c.moves.flatMap((m) => moveEvents(state, m, c.correlationId, c.at));
    case 'ScratchReclaimed': {
      const v = state.volumes.get(c.volser);
      if (!v) return []; // scratched already (a replay)
      if (v.status === 'mounted') throw new TapeStateError(`volume ${c.volser} is mounted for appending; it cannot be scratched`);
      const live = v.runs.find((r) => isLive(state, r.incarnation));
      if (live) throw new TapeStateError(`volume ${c.volser} still holds a live run of ${state.files.get(live.incarnation)?.clientFile} (${live.incarnation}) at ${live.position}; move it first`);
      return [{ type: 'VolumeScratched', stream: v.stream, volser: c.volser, occurredAt: c.at }];
    }
    case 'ReportReclaim':
      stream(state, c.event.stream);
      return [c.event];
    default: {
      const never: never = c;
      throw new TapeStateError(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** A client file whose runs reclamation keeps: closed and not expired (open files pin their volumes; aborted and expired ones are left behind). */
export function isLive(state: SovState, incarnation: string): boolean {
  const f = state.files.get(incarnation);
  return f !== undefined && f.status === 'closed' && !f.expired;
}

/**
 * The RunMoved of one copied piece, or nothing when it is recorded already (a replay). The piece
 * must lie within a live run still on its old volume, superblock for superblock (same CRCs).
 */
function moveEvents(state: SovState, m: RunMove, correlationId: string | undefined, at: number): SovEvent[] {
  const p = m.placement;
  const to = state.volumes.get(p.volser);
  if (!to) throw new TapeStateError(`run moved to volume ${p.volser}, which was never mounted`);
  if (to.runs.some((r) => r.position === p.position)) return [];
  const from = state.volumes.get(m.fromVolser);
  const run = from?.runs.find((r) => r.position === m.fromPosition && r.incarnation === p.incarnation);
  if (!from || !run) throw new TapeStateError(`no run of ${p.incarnation} at ${m.fromVolser}@${m.fromPosition} to move`);
  const f = state.files.get(p.incarnation) as FileState;
  if (!isLive(state, p.incarnation)) throw new TapeStateError(`client file ${f.clientFile} (${p.incarnation}) is ${f.expired ? 'expired' : f.status}: its runs are not moved`);
  if (from.stream !== to.stream) throw new TapeStateError(`run of stream ${from.stream} moved to volume ${p.volser} of stream ${to.stream}`);
  const k = p.firstSeq - run.firstSeq;
  if (k < 0 || k + p.count > run.count) throw new TapeStateError(`piece ${p.firstSeq}+${p.count} is not within the run ${run.firstSeq}+${run.count} at ${m.fromVolser}@${m.fromPosition}`);
  const fromLast = f.close ? run.firstSeq + run.count === f.close.superblocks : false;
  if (p.last !== (fromLast && k + p.count === run.count)) throw new TapeStateError(`piece ${p.firstSeq}+${p.count} of ${f.clientFile}: last flag ${p.last} differs from the run it copies`);
  return [
    {
      type: 'RunMoved',
      stream: to.stream,
      clientFile: f.clientFile,
      incarnation: p.incarnation,
      fromVolser: m.fromVolser,
      fromPosition: m.fromPosition,
      volser: p.volser,
      firstSeq: p.firstSeq,
      superblocks: p.count,
      last: p.last,
      position: p.position,
      length: p.extent,
      bytes: p.bytes,
      crcs: [...p.crcs],
      ...(correlationId ? { correlationId } : {}),
      occurredAt: at,
    },
  ];
}

/** Volumes that become scratch once `incarnation` expires: finished or suspect, every client file on them expired. */
function scratchable(state: SovState, incarnation: string): VolumeState[] {
  const out: VolumeState[] = [];
  for (const v of state.volumes.values()) {
    if (!v.files.has(incarnation) || v.status === 'mounted') continue;
    if ([...v.files].every((i) => i === incarnation || state.files.get(i)?.expired === true || !state.files.has(i))) out.push(v);
  }
  return out;
}

/**
 * The events of records made durable on `volser`. `placed` overlays the state's placed counts for
 * events decided earlier in the same decision (Reconcile).
 */
function durableEvents(state: SovState, volser: string, d: DurableRecords, at: number, placed: Map<string, number>, opened = new Set<string>()): SovEvent[] {
  const out: SovEvent[] = [];
  const v = state.volumes.get(volser);
  if (!v) throw new TapeStateError(`records on volume ${volser}, which was never mounted`);
  for (const o of d.opens) {
    if (state.files.has(o.record.incarnation) || opened.has(o.record.incarnation)) continue;
    opened.add(o.record.incarnation);
    out.push(openedEventOf(o.record));
    placed.set(o.record.incarnation, 0);
  }
  const name = (inc: string) => state.files.get(inc)?.clientFile ?? d.opens.find((o) => o.record.incarnation === inc)?.record.clientFile;
  for (const r of d.runs) {
    const now = placed.get(r.incarnation) ?? state.files.get(r.incarnation)?.placed;
    const clientFile = name(r.incarnation);
    if (now === undefined || clientFile === undefined) throw new TapeStateError(`run of ${r.incarnation} on ${volser}: its client file was never opened`);
    if (r.firstSeq !== now) throw new TapeStateError(`run of ${clientFile} at ${volser}@${r.position} starts at ${r.firstSeq}, ${now} is next`);
    out.push({
      type: 'RunPlaced',
      stream: v.stream,
      clientFile,
      incarnation: r.incarnation,
      volser,
      firstSeq: r.firstSeq,
      superblocks: r.count,
      last: r.last,
      position: r.position,
      length: r.extent,
      bytes: r.bytes,
      crcs: [...r.crcs],
      occurredAt: at,
    });
    placed.set(r.incarnation, now + r.count);
  }
  for (const c of d.closes) {
    const f = state.files.get(c.record.incarnation);
    const clientFile = name(c.record.incarnation);
    if (f && f.status !== 'open') continue;
    if (clientFile === undefined) throw new TapeStateError(`close of ${c.record.incarnation}, never opened`);
    const n = placed.get(c.record.incarnation) ?? f?.placed ?? 0;
    if (n !== c.record.superblocks) throw new TapeStateError(`close of ${clientFile} says ${c.record.superblocks} superblocks, ${n} are placed`);
    out.push({ type: 'ClientFileClosed', stream: v.stream, clientFile, incarnation: c.record.incarnation, superblocks: c.record.superblocks, bytes: c.record.bytes, sha256: c.record.sha256, occurredAt: c.record.closedAt });
  }
  for (const a of d.aborts) {
    const f = state.files.get(a.record.incarnation);
    const clientFile = name(a.record.incarnation);
    if ((f && f.status !== 'open') || clientFile === undefined) continue;
    out.push({ type: 'ClientFileAborted', stream: v.stream, clientFile, incarnation: a.record.incarnation, reason: a.record.reason, occurredAt: a.record.abortedAt });
  }
  return out;
}

/**
 * After a crash: what a volume holds beyond the events folded so far becomes events (a run is
 * taken only where it continues its client file; anything else is left as it is and reported).
 */
function reconcile(state: SovState, device: string, scan: VolumeScan, at: number): SovEvent[] {
  const l = scan.label;
  if (!l) return [];
  const out: SovEvent[] = [];
  let v = state.volumes.get(l.volser);
  if (!v) {
    if (!state.streams.has(l.stream)) return [];
    out.push({
      type: 'VolumeMounted',
      stream: l.stream,
      volser: l.volser,
      device,
      streamFile: l.streamFile,
      volumeSeq: l.sequence,
      ...(l.previousVolser ? { previousVolser: l.previousVolser } : {}),
      labelled: true,
      occurredAt: at,
    });
    // durableEvents looks the volume up: a copy of the state's volume map holds it
    v = { volser: l.volser, stream: l.stream, streamFile: l.streamFile, sequence: l.sequence, previousVolser: l.previousVolser ?? null, nextVolser: null, device, status: 'mounted', end: 0, files: new Set(), runs: [] };
    state = { ...state, volumes: new Map(state.volumes).set(l.volser, v) };
  }
  const placed = new Map<string, number>();
  const runs: RunPlacement[] = [];
  const moves: RunMove[] = [];
  for (const r of [...scan.runs].sort((a, b) => a.position - b.position)) {
    // a reclamation's copy, durable before its RunMoved was published (a crash): recorded now, so a re-sent reclaim does not copy it again
    if (isLive(state, r.incarnation) && !v.runs.some((x) => x.position === r.position)) {
      const src = movedFrom(state, l.volser, r);
      if (src) {
        moves.push({ fromVolser: src.volser, fromPosition: src.position, placement: { ...(r as RunEntry), volser: l.volser } });
        continue;
      }
    }
    const now = placed.get(r.incarnation) ?? state.files.get(r.incarnation)?.placed ?? (scan.opens.some((o) => o.record.incarnation === r.incarnation) ? 0 : undefined);
    if (now === undefined || r.firstSeq !== now) continue; // already reported, or not continuing its file
    const f = state.files.get(r.incarnation);
    if (f && f.status !== 'open') continue;
    runs.push({ ...(r as RunEntry), volser: l.volser });
    placed.set(r.incarnation, now + r.count);
  }
  const durable: DurableRecords = {
    opens: scan.opens.map((o) => ({ record: o.record, continuation: o.continuation })),
    runs,
    closes: scan.closes.filter((c) => {
      const n = placed.get(c.record.incarnation) ?? state.files.get(c.record.incarnation)?.placed;
      return n === c.record.superblocks;
    }),
    aborts: scan.aborts,
  };
  out.push(...durableEvents(state, l.volser, durable, at, new Map()));
  for (const m of moves) out.push(...moveEvents(state, m, undefined, at));
  for (const d of scan.damage)
    if (d.kind !== 'truncated') out.push({ type: 'VolumeSuspect', stream: l.stream, volser: l.volser, device, position: d.position, reason: d.reason, occurredAt: at });
  if (scan.finished && v.status === 'mounted')
    out.push({ type: 'VolumeFull', stream: l.stream, volser: l.volser, bytes: scan.end, ...(scan.nextVolser ? { nextVolser: scan.nextVolser } : {}), occurredAt: at });
  return out;
}

/** The run on another volume of the stream that `r` (found on `volser`) is a copy of: same client file, its superblocks within the run, same CRCs. */
function movedFrom(state: SovState, volser: string, r: RunEntry): { volser: string; position: number } | null {
  const f = state.files.get(r.incarnation);
  if (!f) return null;
  for (const other of f.volsers) {
    if (other === volser) continue;
    const v = state.volumes.get(other);
    const run = v?.runs.find((x) => x.incarnation === r.incarnation && x.firstSeq <= r.firstSeq && r.firstSeq + r.count <= x.firstSeq + x.count);
    if (v && run) return { volser: other, position: run.position };
  }
  return null;
}

/** The stream multiplexer's decider (pure; `evolve` works in place: sov-fold.ts). */
export const sovDecider: Decider<SovCommand, SovEvent, SovState> = { decide, evolve: evolveSov, initialState: initialSovState };
