/**
 * The stream decider's fold (its `evolve`): one sov.events message into the state, in place
 * (Maps of thousands of client files), so that replaying a topic that holds an event twice changes
 * nothing. Split from streams.ts, where the decisions are.
 */
import { openRecordOf } from './catalog';
import type { OpenRecord } from './format';
import type { SovEvent, SovState, VolumeRun, VolumeState } from './streams';

export const nameKey = (stream: string, clientFile: string) => `${stream}/${clientFile}`;

/** Folds one event into the state (in place). Replaying a topic that holds an event twice changes nothing. */
export function evolveSov(state: SovState, e: SovEvent): SovState {
  switch (e.type) {
    case 'StreamDefined': {
      const { type: _t, stream: name, occurredAt: _o, ...settings } = e;
      const s = state.streams.get(name);
      if (s) s.settings = settings;
      else state.streams.set(name, { name, settings, devices: new Map(), volumeSeq: 0 });
      return state;
    }
    case 'DeviceAdded': {
      const s = state.streams.get(e.stream);
      if (!s) return state;
      const d = s.devices.get(e.device);
      if (d) {
        d.status = 'active';
        d.rateBytesPerSec = e.rateBytesPerSec;
      } else s.devices.set(e.device, { name: e.device, status: 'active', volser: null, ...(e.rateBytesPerSec ? { rateBytesPerSec: e.rateBytesPerSec } : {}) });
      return state;
    }
    case 'StreamServed':
    case 'StreamReleased': {
      const s = state.streams.get(e.stream);
      if (s && e.type === 'StreamServed') s.servedBy = e.instance;
      else if (s && s.servedBy === e.instance) s.servedBy = null;
      return state;
    }
    case 'DeviceRemoved':
    case 'DeviceFailed': {
      const d = state.streams.get(e.stream)?.devices.get(e.device);
      if (d) {
        d.status = e.type === 'DeviceRemoved' ? 'removed' : 'failed';
        d.volser = null;
      }
      for (const f of state.files.values()) if (f.device === e.device && f.stream === e.stream) f.device = null;
      return state;
    }
    case 'VolumeMounted': {
      const s = state.streams.get(e.stream);
      if (s) {
        s.volumeSeq = Math.max(s.volumeSeq, e.volumeSeq);
        const d = s.devices.get(e.device);
        if (d) d.volser = e.volser;
        // a volume mounted on one device is no longer the mounted volume of another
        for (const o of s.devices.values()) if (o !== d && o.volser === e.volser) o.volser = null;
      }
      const v = state.volumes.get(e.volser);
      if (v) v.device = e.device;
      else
        state.volumes.set(e.volser, {
          volser: e.volser,
          stream: e.stream,
          streamFile: e.streamFile,
          sequence: e.volumeSeq,
          previousVolser: e.previousVolser ?? null,
          nextVolser: null,
          device: e.device,
          status: 'mounted',
          end: 0,
          files: new Set(),
          runs: [],
        });
      return state;
    }
    case 'VolumeFull': {
      const v = state.volumes.get(e.volser);
      if (v) {
        v.status = 'full';
        v.end = e.bytes;
        v.nextVolser = e.nextVolser ?? null;
        const d = state.streams.get(v.stream)?.devices.get(v.device);
        if (d?.volser === e.volser) d.volser = null;
      }
      return state;
    }
    case 'VolumeSuspect': {
      const v = state.volumes.get(e.volser);
      if (v) {
        if (v.status === 'mounted') v.status = 'suspect';
        v.suspect ??= { ...(e.position !== undefined ? { position: e.position } : {}), reason: e.reason };
        const d = state.streams.get(v.stream)?.devices.get(v.device);
        if (d?.volser === e.volser) d.volser = null;
      }
      return state;
    }
    case 'VolumeScratched': {
      const v = state.volumes.get(e.volser);
      state.volumes.delete(e.volser);
      for (const inc of v?.files ?? []) {
        const f = state.files.get(inc);
        if (!f) continue;
        const i = f.volsers.indexOf(e.volser);
        if (i >= 0) f.volsers.splice(i, 1);
        if (f.expired && f.volsers.length === 0) {
          state.files.delete(inc);
          if (state.names.get(nameKey(f.stream, f.clientFile)) === inc) state.names.delete(nameKey(f.stream, f.clientFile));
        }
      }
      return state;
    }
    case 'ClientFileOpened': {
      if (state.files.has(e.incarnation)) return state;
      const key = nameKey(e.stream, e.clientFile);
      const open: OpenRecord = openRecordOf(e);
      state.files.set(e.incarnation, {
        incarnation: e.incarnation,
        stream: e.stream,
        clientFile: e.clientFile,
        open,
        status: 'open',
        expired: false,
        placed: 0,
        bytes: 0,
        last: false,
        volsers: [],
        device: null,
        close: null,
        abort: null,
      });
      state.names.set(key, e.incarnation);
      return state;
    }
    case 'RunPlaced': {
      const f = state.files.get(e.incarnation);
      if (!f || e.firstSeq + e.superblocks <= f.placed) return state;
      f.placed = e.firstSeq + e.superblocks;
      f.bytes += e.bytes;
      f.last ||= e.last;
      if (f.volsers[f.volsers.length - 1] !== e.volser) f.volsers.push(e.volser);
      const v = state.volumes.get(e.volser);
      if (v) {
        v.files.add(e.incarnation);
        v.end = Math.max(v.end, e.position + e.length);
        addRun(v, { incarnation: e.incarnation, firstSeq: e.firstSeq, count: e.superblocks, position: e.position, extent: e.length, bytes: e.bytes });
        f.device = v.device;
      }
      return state;
    }
    case 'ClientFileClosed': {
      const f = state.files.get(e.incarnation);
      if (f && f.status === 'open') {
        f.status = 'closed';
        f.close = { incarnation: e.incarnation, superblocks: e.superblocks, bytes: e.bytes, sha256: e.sha256, closedAt: e.occurredAt };
      }
      return state;
    }
    case 'ClientFileAborted': {
      const f = state.files.get(e.incarnation);
      if (f && f.status === 'open') {
        f.status = 'aborted';
        f.abort = { incarnation: e.incarnation, reason: e.reason, abortedAt: e.occurredAt };
      }
      return state;
    }
    case 'ClientFileExpired': {
      const f = state.files.get(e.incarnation);
      if (f) f.expired = true;
      return state;
    }
    case 'RunMoved': {
      // the copy is added where it now lies; the old run is forgotten with the piece that ends where it
      // ended (a run split over two volumes stays readable from the old one until its last piece moved)
      const f = state.files.get(e.incarnation);
      if (!f) return state;
      const to = state.volumes.get(e.volser);
      if (to) {
        to.files.add(e.incarnation);
        to.end = Math.max(to.end, e.position + e.length);
        addRun(to, { incarnation: e.incarnation, firstSeq: e.firstSeq, count: e.superblocks, position: e.position, extent: e.length, bytes: e.bytes });
        if (!f.volsers.includes(e.volser)) f.volsers.push(e.volser);
      }
      const from = state.volumes.get(e.fromVolser);
      if (from) {
        const i = from.runs.findIndex((r) => r.position === e.fromPosition && r.incarnation === e.incarnation);
        if (i >= 0 && from.runs[i].firstSeq + from.runs[i].count === e.firstSeq + e.superblocks) from.runs.splice(i, 1);
        if (!from.runs.some((r) => r.incarnation === e.incarnation)) {
          const j = f.volsers.indexOf(e.fromVolser);
          if (j >= 0) f.volsers.splice(j, 1);
        }
      }
      return state;
    }
    case 'VolumeVerified':
    case 'ClientFileVerified':
    case 'VolumesReclaimed':
      return state;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** Keeps a volume's runs in position order (a run folded twice is kept once). */
function addRun(v: VolumeState, r: VolumeRun): void {
  let i = v.runs.length;
  while (i > 0 && v.runs[i - 1].position > r.position) i--;
  if (i > 0 && v.runs[i - 1].position === r.position) return;
  v.runs.splice(i, 0, r);
}

/** Folds events onto a state (in place). */
export function foldSov(state: SovState, events: Iterable<SovEvent>): SovState {
  for (const e of events) evolveSov(state, e);
  return state;
}

/** Notes that a client file has a record (open, close, abort) on a volume, for scratching. */
export function noteFileOnVolume(state: SovState, volser: string, incarnation: string): void {
  state.volumes.get(volser)?.files.add(incarnation);
}
