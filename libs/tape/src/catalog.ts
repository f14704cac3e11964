import { createHash } from 'node:crypto';
import { AbortRecord, CloseRecord, CodecSpec, OpenRecord } from './format';
import { VolumeScan } from './scan';
import { RunPlacement } from './writer';

/*
 * The client-file catalog of a stream as a fold: the catalog service folds the sov.events it
 * consumes, the scan folds the events it reconstructs from volumes, and both give the same state
 * and digest (the digest covers only facts that are on the volumes: not expiry decisions, devices
 * or event times other than the open/close/abort times).
 *
 * The event shapes are those of libs/contracts' sov messages (fields this fold does not need are
 * ignored), so a decoded ClientFileOpened, RunPlaced, … can be passed in as it is.
 */


/** Where one run of a client file lies on a volume: what RunPlaced says and a scan finds. */
export interface RunFacts {
  readonly incarnation: string;
  readonly volser: string;
  readonly firstSeq: number;
  readonly superblocks: number;
  readonly last: boolean;
  readonly position: number;
  readonly length: number;
  readonly bytes: number;
  readonly crcs: readonly number[];
}

export type CatalogEvent =
  | { readonly type: 'VolumeMounted'; readonly stream: string; readonly volser: string; readonly streamFile: string; readonly volumeSeq: number; readonly previousVolser?: string }
  | { readonly type: 'VolumeFull'; readonly volser: string; readonly nextVolser?: string }
  | { readonly type: 'VolumeScratched'; readonly volser: string }
  | {
      readonly type: 'ClientFileOpened';
      readonly stream: string;
      readonly clientFile: string;
      readonly incarnation: string;
      readonly dbid?: number;
      readonly dsid?: unknown;
      readonly kind?: string;
      readonly expiresAt?: number;
      readonly description?: string;
      readonly compression: CodecSpec['compression'];
      readonly compressionLevel?: number;
      readonly encryption: CodecSpec['encryption'];
      readonly keyId?: string;
      readonly wrappedKey?: string;
      readonly occurredAt: number;
    }
  | ({ readonly type: 'RunPlaced' } & RunFacts)
  | ({ readonly type: 'RunMoved'; readonly fromVolser: string; readonly fromPosition: number } & RunFacts)
  | { readonly type: 'ClientFileClosed'; readonly incarnation: string; readonly superblocks: number; readonly bytes: number; readonly sha256: string; readonly occurredAt: number }
  | { readonly type: 'ClientFileAborted'; readonly incarnation: string; readonly reason: string; readonly occurredAt: number }
  | { readonly type: 'ClientFileExpired'; readonly incarnation: string };

export interface CatalogVolume {
  readonly volser: string;
  readonly stream: string;
  readonly streamFile: string;
  readonly sequence: number;
  readonly previousVolser: string | null;
  nextVolser: string | null;
  /** finished (trailer written): VolumeFull */
  finished: boolean;
}

export interface CatalogFile {
  readonly incarnation: string;
  open: OpenRecord | null;
  /** runs by `${volser}@${position}` */
  readonly runs: Map<string, RunPlacement>;
  close: CloseRecord | null;
  abort: AbortRecord | null;
  expired: boolean;
}

export interface CatalogState {
  readonly files: Map<string, CatalogFile>;
  readonly volumes: Map<string, CatalogVolume>;
}

export function initialCatalog(): CatalogState {
  return { files: new Map(), volumes: new Map() };
}

function file(state: CatalogState, incarnation: string): CatalogFile {
  let f = state.files.get(incarnation);
  if (!f) state.files.set(incarnation, (f = { incarnation, open: null, runs: new Map(), close: null, abort: null, expired: false }));
  return f;
}

/** The run a RunPlaced (or a RunMoved: where the copy now lies) describes. */
function runOf(e: Extract<CatalogEvent, { type: 'RunPlaced' | 'RunMoved' }>): RunPlacement {
  return { volser: e.volser, incarnation: e.incarnation, firstSeq: e.firstSeq, count: e.superblocks, last: e.last, position: e.position, extent: e.length, bytes: e.bytes, crcs: [...e.crcs] };
}

/** The open record a ClientFileOpened event describes. */
export function openRecordOf(e: Extract<CatalogEvent, { type: 'ClientFileOpened' }>): OpenRecord {
  const codec: CodecSpec = strip({ compression: e.compression, level: e.compressionLevel, encryption: e.encryption, keyId: e.keyId, wrappedKey: e.wrappedKey });
  return strip({
    incarnation: e.incarnation,
    clientFile: e.clientFile,
    stream: e.stream,
    dbid: e.dbid,
    dsid: e.dsid,
    kind: e.kind,
    expiresAt: e.expiresAt,
    description: e.description,
    openedAt: e.occurredAt,
    codec,
  });
}

/** The ClientFileOpened fields of an open record (what the multiplexer publishes). */
export function openedEventOf(o: OpenRecord): Extract<CatalogEvent, { type: 'ClientFileOpened' }> {
  return strip({
    type: 'ClientFileOpened' as const,
    stream: o.stream,
    clientFile: o.clientFile,
    incarnation: o.incarnation,
    dbid: o.dbid,
    dsid: o.dsid,
    kind: o.kind,
    expiresAt: o.expiresAt,
    description: o.description,
    compression: o.codec.compression,
    compressionLevel: o.codec.level,
    encryption: o.codec.encryption,
    keyId: o.codec.keyId,
    wrappedKey: o.codec.wrappedKey,
    occurredAt: o.openedAt,
  });
}

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Folds one event into the state (in place; returns it). Duplicates change nothing. */
export function evolveCatalog(state: CatalogState, e: CatalogEvent): CatalogState {
  switch (e.type) {
    case 'VolumeMounted':
      if (!state.volumes.has(e.volser))
        state.volumes.set(e.volser, { volser: e.volser, stream: e.stream, streamFile: e.streamFile, sequence: e.volumeSeq, previousVolser: e.previousVolser ?? null, nextVolser: null, finished: false });
      return state;
    case 'VolumeFull': {
      const v = state.volumes.get(e.volser);
      if (v) {
        v.finished = true;
        v.nextVolser = e.nextVolser ?? null;
      }
      return state;
    }
    case 'VolumeScratched':
      state.volumes.delete(e.volser);
      for (const f of state.files.values()) {
        let had = false;
        for (const [k, r] of f.runs)
          if (r.volser === e.volser) {
            f.runs.delete(k);
            had = true;
          }
        // an expired file whose last volume went to scratch is on no volume: a scan would not find it either
        if (had && f.expired && f.runs.size === 0) state.files.delete(f.incarnation);
      }
      return state;
    case 'ClientFileOpened': {
      const f = file(state, e.incarnation);
      f.open ??= openRecordOf(e);
      return state;
    }
    case 'RunPlaced':
      file(state, e.incarnation).runs.set(`${e.volser}@${e.position}`, runOf(e));
      return state;
    case 'RunMoved': {
      // reclamation: the copy where it now lies; the old run goes with the piece that ends where it ended
      const f = state.files.get(e.incarnation);
      if (!f) return state;
      f.runs.set(`${e.volser}@${e.position}`, runOf(e));
      const key = `${e.fromVolser}@${e.fromPosition}`;
      const old = f.runs.get(key);
      if (old && old.firstSeq + old.count === e.firstSeq + e.superblocks) f.runs.delete(key);
      return state;
    }
    case 'ClientFileClosed': {
      const f = file(state, e.incarnation);
      f.close ??= { incarnation: e.incarnation, superblocks: e.superblocks, bytes: e.bytes, sha256: e.sha256, closedAt: e.occurredAt };
      return state;
    }
    case 'ClientFileAborted': {
      const f = file(state, e.incarnation);
      f.abort ??= { incarnation: e.incarnation, reason: e.reason, abortedAt: e.occurredAt };
      return state;
    }
    case 'ClientFileExpired':
      file(state, e.incarnation).expired = true;
      return state;
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** The events a scanned volume stands for, in write order (what the multiplexer published for it). */
export function eventsOfScan(scan: VolumeScan): CatalogEvent[] {
  const out: CatalogEvent[] = [];
  const l = scan.label;
  if (l) out.push({ type: 'VolumeMounted', stream: l.stream, volser: l.volser, streamFile: l.streamFile, volumeSeq: l.sequence, ...(l.previousVolser ? { previousVolser: l.previousVolser } : {}) });
  const items: Array<{ position: number; e: CatalogEvent }> = [
    ...scan.opens.map((o) => ({ position: o.position, e: openedEventOf(o.record) as CatalogEvent })),
    ...scan.runs.map((r) => ({
      position: r.position,
      e: { type: 'RunPlaced' as const, incarnation: r.incarnation, volser: l?.volser ?? scan.volser, firstSeq: r.firstSeq, superblocks: r.count, last: r.last, position: r.position, length: r.extent, bytes: r.bytes, crcs: r.crcs },
    })),
    ...scan.closes.map((c) => ({ position: c.position, e: { type: 'ClientFileClosed' as const, ...c.record, occurredAt: c.record.closedAt } })),
    ...scan.aborts.map((a) => ({ position: a.position, e: { type: 'ClientFileAborted' as const, incarnation: a.record.incarnation, reason: a.record.reason, occurredAt: a.record.abortedAt } })),
  ].sort((a, b) => a.position - b.position);
  out.push(...items.map((i) => i.e));
  if (scan.finished && l) out.push({ type: 'VolumeFull', volser: l.volser, ...(scan.nextVolser ? { nextVolser: scan.nextVolser } : {}) });
  return out.map((e) => (e.type === 'ClientFileClosed' ? strip({ type: e.type, incarnation: e.incarnation, superblocks: e.superblocks, bytes: e.bytes, sha256: e.sha256, occurredAt: e.occurredAt }) : e));
}

/** What a client file's runs say about it. */
export interface FileAssessment {
  /** closed, not aborted, superblocks 0..n-1 all present, exactly one `last` at the highest, no conflict, count = close's */
  readonly complete: boolean;
  readonly status: 'complete' | 'open' | 'incomplete' | 'aborted' | 'conflict';
  /** distinct sequence numbers found */
  readonly superblocks: number;
  /** missing sequence numbers below the highest found (at most 1000 listed) */
  readonly missing: number[];
  /** sequence numbers flagged last */
  readonly lastSeqs: number[];
  /** copies of one superblock with different contents */
  readonly conflicts: Array<{ readonly seq: number; readonly crcs: number[]; readonly runs: string[] }>;
}

export function assessFile(f: CatalogFile): FileAssessment {
  const bySeq = new Map<number, { crcs: Set<number>; runs: string[] }>();
  const last = new Set<number>();
  for (const [key, r] of f.runs) {
    for (let i = 0; i < r.count; i++) {
      const seq = r.firstSeq + i;
      let s = bySeq.get(seq);
      if (!s) bySeq.set(seq, (s = { crcs: new Set(), runs: [] }));
      s.crcs.add(r.crcs[i] >>> 0);
      s.runs.push(key);
    }
    if (r.last) last.add(r.firstSeq + r.count - 1);
  }
  const max = bySeq.size ? Math.max(...bySeq.keys()) : -1;
  const missing: number[] = [];
  for (let s = 0; s <= max && missing.length < 1000; s++) if (!bySeq.has(s)) missing.push(s);
  const conflicts = [...bySeq.entries()]
    .filter(([, s]) => s.crcs.size > 1)
    .map(([seq, s]) => ({ seq, crcs: [...s.crcs].sort((a, b) => a - b), runs: [...s.runs].sort() }))
    .sort((a, b) => a.seq - b.seq);
  const lastSeqs = [...last].sort((a, b) => a - b);
  const whole = missing.length === 0 && lastSeqs.length === 1 && lastSeqs[0] === max;
  const complete = !!f.close && !f.abort && conflicts.length === 0 && whole && f.close.superblocks === max + 1;
  const status = f.abort ? 'aborted' : conflicts.length ? 'conflict' : complete ? 'complete' : f.close ? 'incomplete' : 'open';
  return { complete, status, superblocks: bySeq.size, missing, lastSeqs, conflicts };
}

/**
 * The runs to read for a restore: the fewest that cover 0..n-1, each with the sequence range to
 * deliver from it (a copy overlapping an earlier one delivers only the rest). Volumes in
 * `volumeOrder` first, then by position. Throws when a superblock is missing.
 */
export function restoreRuns(f: CatalogFile, volumeOrder: readonly string[] = []): Array<RunPlacement & { readonly from: number; readonly to: number }> {
  const order = new Map(volumeOrder.map((v, i) => [v, i]));
  const runs = [...f.runs.values()].sort(
    (a, b) => a.firstSeq - b.firstSeq || (order.get(a.volser) ?? 1e9) - (order.get(b.volser) ?? 1e9) || (a.volser < b.volser ? -1 : a.volser > b.volser ? 1 : 0) || a.position - b.position,
  );
  const out: Array<RunPlacement & { from: number; to: number }> = [];
  let need = 0;
  let done = false;
  for (const r of runs) {
    const end = r.firstSeq + r.count - 1;
    if (done || end < need || r.firstSeq > need) continue;
    out.push({ ...r, from: need, to: end });
    need = end + 1;
    if (r.last) done = true;
  }
  if (!done) throw new RangeError(`client file ${f.open?.clientFile ?? f.incarnation}: superblock ${need} is not in the catalog`);
  return out;
}

/** Canonical JSON: keys sorted, so equal states give equal text whatever the fold order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as any)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** SHA-256 of the on-volume facts of the catalog (files, their runs, open/close/abort, volumes). */
export function catalogDigest(state: CatalogState): string {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const files = [...state.files.values()]
    .sort((a, b) => cmp(a.incarnation, b.incarnation))
    .map((f) => ({
      incarnation: f.incarnation,
      open: f.open,
      close: f.close,
      abort: f.abort,
      runs: [...f.runs.values()].sort((a, b) => cmp(a.volser, b.volser) || a.position - b.position),
    }));
  const volumes = [...state.volumes.values()].sort((a, b) => cmp(a.volser, b.volser));
  return createHash('sha256').update(canonical({ files, volumes })).digest('hex');
}
