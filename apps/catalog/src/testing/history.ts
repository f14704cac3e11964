/**
 * A realistic catalog history of any length, for the replay benchmark and the auditor's tests:
 * databases on the seed's sample schedule (a full save starts a cycle, an online delta with its
 * DSIM every day, the consolidated delta merged with each new delta, once a week the full and the
 * consolidated delta merged into a new full), the DLOG the change logger records between saves,
 * a failed save and a restore now and then, a lineage fork, and the streaming side: every save
 * written as a client file in runs over volumes that fill, files that expire and volumes scratched,
 * and once a week a reclamation (the oldest volume's live runs moved, RunMoved, then scratched).
 * Deterministic: the same arguments give the same events.
 */
import type { Dsid } from '@deltaflow/dsid';
import type { CatalogEvent, SovEvent } from '../projection';

export interface HistoryOptions {
  /** stop once at least this many events were made (whole days) */
  readonly events: number;
  /** databases saved in turn (default 8) */
  readonly databases?: number;
  /** ms since the epoch of the first event (default 2026-01-05) */
  readonly start?: number;
}

const DAY = 86_400_000;
const uuid = (n: number) => {
  const h = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${h}`;
};
const hex = (n: number, len = 12) => (n * 2654435761).toString(16).padStart(len, '0').slice(-len);

/** The events in log order (topic of each from its type: dsf.events, dsf.dlog or sov.events). */
export function catalogHistory(o: HistoryOptions): CatalogEvent[] {
  const out: CatalogEvent[] = [];
  const dbs = o.databases ?? 8;
  let t = o.start ?? Date.UTC(2026, 0, 5);
  const tick = () => (t += 1_000);
  let corr = 0;
  let lsn = 0;
  let incarnations = 0;
  // streaming: one stream, volumes filled by runs
  const stream = 'NIGHTLY';
  let volume = 1;
  let position = 0;
  const volser = () => `V${String(volume).padStart(5, '0')}`;
  const capacity = 64 << 20;
  const onVolume = new Map<string, string[]>(); // volser -> incarnations
  const runsOn = new Map<string, Array<Extract<SovEvent, { type: 'RunPlaced' }>>>(); // volser -> its runs
  const expiring: Array<{ incarnation: string; clientFile: string; at: number }> = [];
  const sov = (e: SovEvent) => out.push(e);
  sov({ type: 'StreamDefined', stream, minDevices: 1, maxDevices: 2, volumeCapacity: capacity, runSuperblocks: 16, checkpointEveryBytes: 64 << 20, compression: 'none', encryption: 'none', occurredAt: tick() });
  sov({ type: 'DeviceAdded', stream, device: 'd1', occurredAt: tick() });
  sov({ type: 'VolumeMounted', stream, volser: volser(), device: 'd1', streamFile: stream, volumeSeq: volume, labelled: true, occurredAt: tick() });

  /** a save written to the stream: open, runs (filling volumes), close */
  const clientFile = (dbid: number, dsid: Dsid, kind: 'full' | 'delta', name: string, superblocks: number) => {
    const incarnation = uuid(++incarnations);
    sov({ type: 'ClientFileOpened', stream, clientFile: name, incarnation, dbid, dsid, kind, expiresAt: t + 21 * DAY, compression: 'none', encryption: 'none', occurredAt: tick() });
    let seq = 0;
    while (seq < superblocks) {
      const n = Math.min(4, superblocks - seq);
      const length = n * 262_216;
      if (position + length > capacity) {
        const next = volume + 1;
        sov({ type: 'VolumeFull', stream, volser: volser(), bytes: position, nextVolser: `V${String(next).padStart(5, '0')}`, occurredAt: tick() });
        const previous = volser();
        volume = next;
        position = 600;
        sov({ type: 'VolumeMounted', stream, volser: volser(), device: 'd1', streamFile: stream, volumeSeq: volume, previousVolser: previous, labelled: true, occurredAt: tick() });
      }
      if (position === 0) position = 600;
      const placed: Extract<SovEvent, { type: 'RunPlaced' }> = { type: 'RunPlaced', stream, clientFile: name, incarnation, volser: volser(), firstSeq: seq, superblocks: n, last: seq + n === superblocks, position, length, bytes: n * 262_144, crcs: Array.from({ length: n }, (_, i) => (seq + i) * 7919), occurredAt: tick() };
      sov(placed);
      runsOn.set(volser(), [...(runsOn.get(volser()) ?? []), placed]);
      onVolume.set(volser(), [...(onVolume.get(volser()) ?? []), incarnation]);
      position += length;
      seq += n;
    }
    sov({ type: 'ClientFileClosed', stream, clientFile: name, incarnation, superblocks, bytes: superblocks * 262_144, sha256: hex(incarnations, 64), occurredAt: tick() });
    expiring.push({ incarnation, clientFile: name, at: t + 21 * DAY });
  };

  const state = Array.from({ length: dbs }, (_, i) => ({ dbid: i + 1, lineage: `L${i + 1}a`, full: 0, delta: 0 }));
  for (let day = 0; out.length < o.events; day++) {
    const weekday = day % 7;
    for (const db of state) {
      const dbid = db.dbid;
      const c = () => `c${++corr}`;
      // the DLOG between saves: changes, a utility mark, the save's sync and capture
      for (let k = 0; k < 3; k++) out.push({ type: 'DlogRecorded', dbid, lsn: ++lsn, ranges: [{ area: 'DATA', from: 1 + k * 10, to: 5 + k * 10 }, { area: 'ASSO', from: 30, to: 30 }], marks: [], occurredAt: tick() });
      out.push({ type: 'DlogRecorded', dbid, lsn: ++lsn, ranges: [], marks: [{ file: 1, parts: ['INDEX'], extents: [{ part: 'DATA', from: 7, to: 9 }] }], occurredAt: tick() });
      const sync = ++lsn;
      out.push({ type: 'DlogSyncRecorded', dbid, lsn: sync, syncId: `s${sync}`, occurredAt: tick() });
      if (weekday === 0) {
        // a new cycle: full save (offline), its DSIM reset
        db.full++;
        db.delta = 0;
        const dsid: Dsid = { full: db.full, deltaFrom: 0, deltaTo: 0, timestamp: t, lineage: db.lineage };
        const id = c();
        out.push({ type: 'SaveStarted', correlationId: id, dbid, dsid, kind: 'full', online: false, occurredAt: tick() });
        out.push({ type: 'SaveProgress', correlationId: id, dbid, blocksWritten: 60, occurredAt: tick() });
        const name = `db${dbid}-full-${db.full}`;
        clientFile(dbid, dsid, 'full', name, 12);
        out.push({ type: 'SaveCompleted', correlationId: id, dbid, dsid, kind: 'full', online: false, location: { kind: 'stream', stream, clientFile: name }, blocks: 120, bytes: 491_520, digest: hex(corr), occurredAt: tick() });
        out.push({ type: 'DsimReset', correlationId: c(), dbid, occurredAt: tick() });
        continue;
      }
      // a daily online delta with its DSIM
      db.delta++;
      const dsid: Dsid = { full: db.full, deltaFrom: db.delta, deltaTo: db.delta, timestamp: t, lineage: db.lineage };
      const id = c();
      const startLsn = sync;
      out.push({ type: 'SaveStarted', correlationId: id, dbid, dsid, kind: 'delta', online: true, startLsn, occurredAt: tick() });
      out.push({ type: 'DsimAcquired', correlationId: id, dbid, dsid, startLsn, occurredAt: tick() });
      out.push({ type: 'DlogCaptured', dbid, correlationId: id, syncLsn: sync, ranges: [{ area: 'DATA', from: 1, to: 25 }], marks: [{ file: 1, parts: ['INDEX'], extents: [{ part: 'DATA', from: 7, to: 9 }] }], occurredAt: tick() });
      if ((day + dbid) % 23 === 0) {
        out.push({ type: 'SaveFailed', correlationId: id, dbid, dsid, code: 'IO', reason: 'device error', occurredAt: tick() });
        out.push({ type: 'DlogReturned', dbid, correlationId: id, reason: 'save failed', occurredAt: tick() });
        db.delta--;
        continue;
      }
      const name = `db${dbid}-delta-${db.full}-${db.delta}`;
      clientFile(dbid, dsid, 'delta', name, 3);
      out.push({ type: 'SaveCompleted', correlationId: id, dbid, dsid, kind: 'delta', online: true, startLsn, endLsn: startLsn + 5, location: { kind: 'stream', stream, clientFile: name }, blocks: 17, bytes: 69_632, digest: hex(corr), occurredAt: tick() });
      out.push({ type: 'DlogDropped', dbid, correlationId: id, occurredAt: tick() });
      out.push({ type: 'DsimCompleted', correlationId: id, dbid, dsid, startLsn, endLsn: startLsn + 5, blocks: 5, occurredAt: tick() });
      out.push({ type: 'DsimUnloaded', correlationId: c(), dbid, dsid, location: { kind: 'directory', name: `dsim-${dbid}-${db.full}-${db.delta}` }, blocks: 5, digest: hex(corr), occurredAt: tick() });
      if (db.delta >= 2) {
        // the consolidated delta merged with the new delta
        const merged: Dsid = { full: db.full, deltaFrom: 1, deltaTo: db.delta, timestamp: t, lineage: db.lineage };
        out.push({ type: 'MergeCompleted', correlationId: c(), dbid, dsid: merged, kind: 'delta', inputs: [`cdelta-${dbid}-${db.full}`, name], location: { kind: 'directory', name: `cdelta-${dbid}-${db.full}-${db.delta}` }, blocks: 30, digest: hex(corr), occurredAt: tick() });
      }
      if (weekday === 6) {
        // once a week: full + consolidated delta into a new full
        const next: Dsid = { full: db.full + 1, deltaFrom: 0, deltaTo: 0, timestamp: t, lineage: db.lineage };
        out.push({ type: 'MergeCompleted', correlationId: c(), dbid, dsid: next, kind: 'full', inputs: [`db${dbid}-full-${db.full}`, `cdelta-${dbid}-${db.full}`], location: { kind: 'directory', name: `full-${dbid}-${db.full + 1}` }, blocks: 120, digest: hex(corr), occurredAt: tick() });
      }
      if ((day + dbid) % 11 === 0) {
        // a restore into the database, its progress, completion
        const r = c();
        out.push({ type: 'RestoreStarted', correlationId: r, dbid, target: 'db', inputs: [`db${dbid}-full-${db.full}`, name], shadow: false, occurredAt: tick() });
        out.push({ type: 'OperationProgress', correlationId: r, dbid, bytesDone: 1 << 20, occurredAt: tick() });
        out.push({ type: 'RestoreCompleted', correlationId: r, dbid, target: 'db', dsid, blocks: 120, digest: hex(corr), intoDatabase: true, ranges: [{ area: 'DATA', from: 1, to: 120 }], occurredAt: tick() });
      }
      if (day === 40 && dbid === 1) db.lineage = 'L1b'; // a lineage fork: the next full starts it
    }
    t += DAY;
    // files past their expiry, and volumes left with only expired files go to scratch
    while (expiring.length > 0 && expiring[0].at <= t) {
      const x = expiring.shift()!;
      sov({ type: 'ClientFileExpired', stream, clientFile: x.clientFile, incarnation: x.incarnation, occurredAt: tick() });
      x.at = -1;
    }
    const live = new Set(expiring.map((x) => x.incarnation));
    for (const [v, incs] of onVolume) {
      if (v === volser() || incs.some((i) => live.has(i))) continue;
      sov({ type: 'VolumeScratched', stream, volser: v, occurredAt: tick() });
      onVolume.delete(v);
      runsOn.delete(v);
    }
    // once a week a reclamation: the oldest finished volume's live runs move to the current volume, then it goes to scratch
    const oldest = [...onVolume.keys()].find((v) => v !== volser());
    if (day % 7 === 6 && oldest) {
      const moving = (runsOn.get(oldest) ?? []).filter((r) => live.has(r.incarnation));
      if (position + moving.reduce((n, r) => n + r.length, 0) <= capacity) {
        for (const r of moving) {
          const moved: Extract<SovEvent, { type: 'RunPlaced' }> = { ...r, volser: volser(), position, occurredAt: tick() };
          sov({ ...moved, type: 'RunMoved', fromVolser: oldest, fromPosition: r.position, correlationId: `reclaim-${day}` });
          runsOn.set(volser(), [...(runsOn.get(volser()) ?? []), moved]);
          onVolume.set(volser(), [...(onVolume.get(volser()) ?? []), r.incarnation]);
          position += r.length;
        }
        sov({ type: 'VolumeScratched', stream, volser: oldest, occurredAt: tick() });
        onVolume.delete(oldest);
        runsOn.delete(oldest);
      }
    }
  }
  return out;
}
