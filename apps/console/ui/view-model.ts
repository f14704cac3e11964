/**
 * Rows → what the console draws, in one place: the live state and a state "as of" a past point
 * go through the same functions, so they render the same. Pure (no DOM, no fetch): the page
 * calls it on what `/api/state` and `/api/health` answer, the console service calls
 * `stateFromAt` on the catalog's `GET /at`, and the unit tests call it on rows.
 */
import type { AtAnswer, ClientFileRow, ConsoleState, DatabaseRows, DlogRow, DsimRow, HealthState, LagRow, RunRow, SaveRow, VolumeRow } from './rows';

// ---------------------------------------------------------------------------------------
// Grouping the catalog's rows

/**
 * A state from the catalog's `GET /at` answer: its flat rows grouped by database, the same shape
 * as the live state. Restores without a dbid (a catalog that leaves it out) go to the database
 * whose saves hold their DSID, else to the only database.
 */
export function stateFromAt(at: AtAnswer, runs: readonly RunRow[], fetchedAt: number): ConsoleState {
  const dbids = new Set<number>();
  for (const r of [...at.saves, ...at.dsims, ...at.lineages]) dbids.add(r.dbid);
  for (const r of at.restores) if (typeof r.dbid === 'number') dbids.add(r.dbid);
  for (const k of Object.keys(at.dlogs ?? {})) if (/^\d+$/.test(k)) dbids.add(Number(k));
  const sorted = [...dbids].sort((a, b) => a - b);
  const databases: DatabaseRows[] = sorted.map((dbid) => ({
    dbid,
    saves: at.saves.filter((s) => s.dbid === dbid),
    dsims: at.dsims.filter((s) => s.dbid === dbid),
    lineages: at.lineages.filter((s) => s.dbid === dbid),
    restores: [],
    dlog: at.dlogs?.[String(dbid)] ?? null,
  }));
  for (const r of at.restores) {
    const home =
      databases.find((d) => d.dbid === r.dbid) ??
      databases.find((d) => r.dsid !== undefined && d.saves.some((s) => s.dsid === r.dsid)) ??
      (databases.length === 1 ? databases[0] : undefined);
    home?.restores.push(r);
  }
  const known = new Set(at.clientFiles.map((f) => f.incarnation));
  const notes = ['run positions on the volumes are the placements the catalog holds now, for the client files known at that point'];
  if (!at.dlogs) notes.push('the DLOG at that point is not given by this catalog');
  return {
    mode: 'as-of',
    asOf: at.asOf,
    ...(at.digest !== undefined ? { digest: at.digest } : {}),
    databases,
    streams: at.streams,
    volumes: at.volumes,
    clientFiles: at.clientFiles,
    runs: runs.filter((r) => known.has(r.incarnation)),
    notes,
    fetchedAt,
  };
}

// ---------------------------------------------------------------------------------------
// Databases: the save chain as a timeline

export type TimelineLane = 'save' | 'merge' | 'restore' | 'fork';

export interface TimelineEntry {
  key: string;
  lane: TimelineLane;
  /** 'full save', 'delta save', 'merge → full', 'restore', 'lineage fork', ... */
  label: string;
  at: number;
  dsid: string | null;
  kind?: 'full' | 'delta';
  /** 'online' | 'offline' (saves), undefined otherwise */
  mode?: 'online' | 'offline';
  blocks?: number;
  bytes?: number;
  durationMs?: number;
  status: string;
  lineage?: string;
  /** a data set's name (saves, merges) or a restore's target */
  name?: string;
  inputs?: string[];
  reason?: string;
}

const baseName = (p: string | undefined) => (p === undefined ? undefined : p.split(/[\\/]/).pop());
const duration = (from: number, to: number | undefined) => (to === undefined ? undefined : Math.max(0, to - from));

/** Every save, merge, restore and lineage fork of one database, oldest first. */
export function timelineOf(db: DatabaseRows): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const s of db.saves) out.push(saveEntry(s));
  for (const r of db.restores) {
    out.push({
      key: `restore:${r.correlationId}`,
      lane: 'restore',
      label: r.kind === 'restore' ? (r.intoDatabase ? 'restore (database)' : 'restore') : r.kind,
      at: r.startedAt,
      dsid: r.dsid ?? null,
      ...opt('blocks', r.blocks),
      ...opt('durationMs', duration(r.startedAt, r.completedAt)),
      status: r.status,
      name: r.target,
      ...opt('inputs', r.inputs),
      ...opt('reason', r.reason),
    });
  }
  const lineages = [...db.lineages].sort((a, b) => a.firstAt - b.firstAt || a.lineage.localeCompare(b.lineage));
  for (const l of lineages.slice(1)) {
    out.push({ key: `fork:${l.lineage}`, lane: 'fork', label: 'lineage fork', at: l.firstAt, dsid: l.firstDsid, status: 'forked', lineage: l.lineage });
  }
  const rank: Record<TimelineLane, number> = { fork: 0, save: 1, merge: 1, restore: 2 };
  return out.sort((a, b) => a.at - b.at || rank[a.lane] - rank[b.lane] || a.key.localeCompare(b.key));
}

function saveEntry(s: SaveRow): TimelineEntry {
  const merge = s.origin === 'merge';
  const kind = s.kind;
  return {
    key: `${s.origin}:${s.correlationId}`,
    lane: merge ? 'merge' : 'save',
    label: merge ? `merge → ${kind ?? '?'}` : `${kind ?? '?'} save`,
    at: s.startedAt,
    dsid: s.dsid,
    ...opt('kind', kind),
    ...(s.online === undefined || merge ? {} : { mode: s.online ? ('online' as const) : ('offline' as const) }),
    ...opt('blocks', s.blocks),
    ...opt('bytes', s.bytes),
    ...opt('durationMs', duration(s.startedAt, s.completedAt)),
    // a save whose data sets the retention deleted shows expired, with why
    status: s.expiredAt !== undefined ? 'expired' : s.status,
    ...opt('lineage', s.lineage),
    ...opt('name', baseName(s.path)),
    ...opt('reason', s.expiryReason ?? s.reason),
  };
}

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

/** The DSIM in use or last used (by acquisition), with how many there were. */
export function dsimSummary(dsims: readonly DsimRow[]): { current?: DsimRow; count: number; label: string } {
  if (dsims.length === 0) return { count: 0, label: 'no DSIM yet' };
  const current = [...dsims].sort((a, b) => a.acquiredAt - b.acquiredAt || a.dsid.localeCompare(b.dsid))[dsims.length - 1];
  const window = `(${current.startLsn}, ${current.endLsn ?? '…'}]`;
  return { current, count: dsims.length, label: `${current.status} — ${current.dsid} window ${window}${current.blocks !== undefined ? `, ${current.blocks} blocks` : ''}` };
}

export interface DlogSummary {
  blocks: string;
  marks: Array<{ file: number; parts: string; extents: number }>;
  extension: string;
  pending: string | undefined;
  lastLsn: string;
}

/** The DLOG's size (blocks per area), its utility marks per file, the extension's use, a pending capture. */
export function dlogSummary(d: DlogRow | null): DlogSummary | undefined {
  if (!d) return undefined;
  return {
    blocks: `ASSO ${d.blocks.ASSO}, DATA ${d.blocks.DATA}`,
    marks: [...d.marks].sort((a, b) => a.file - b.file).map((m) => ({ file: m.file, parts: m.parts.join('+') || '—', extents: m.extents.length })),
    extension: `${d.extension.used} / ${d.extension.capacity}`,
    pending: d.pending ? `capture at LSN ${d.pending.syncLsn} (ASSO ${d.pending.ASSO}, DATA ${d.pending.DATA}${d.pending.exact ? '' : ', not exact yet'})` : undefined,
    lastLsn: d.lastLsn === null ? '—' : String(d.lastLsn),
  };
}

// ---------------------------------------------------------------------------------------
// Volumes as strips

export interface StripSegment {
  incarnation: string;
  clientFile: string;
  /** 0..1 of the volume's capacity */
  left: number;
  width: number;
  /** a stable colour index per client file */
  color: number;
  title: string;
}

export interface VolumeStrip {
  volser: string;
  stream: string;
  device: string;
  state: string;
  capacity: number | undefined;
  /** 0..1 */
  fill: number | undefined;
  expires: string;
  segments: StripSegment[];
  clientFiles: string[];
  suspect?: string;
}

/** Each volume with its runs placed where they lie (position and length over the capacity). */
export function volumeStrips(volumes: readonly VolumeRow[], clientFiles: readonly ClientFileRow[], runs: readonly RunRow[], capacityOf: (stream: string) => number | undefined): VolumeStrip[] {
  const order = [...clientFiles].sort((a, b) => a.openedAt - b.openedAt || a.incarnation.localeCompare(b.incarnation));
  const color = new Map(order.map((f, i) => [f.incarnation, i]));
  const name = new Map(order.map((f) => [f.incarnation, f.clientFile]));
  return volumes.map((v) => {
    const capacity = v.capacity ?? capacityOf(v.stream);
    const scale = capacity && capacity > 0 ? capacity : Math.max(v.bytes, ...runs.filter((r) => r.volser === v.volser).map((r) => r.position + r.length), 1);
    const segments = runs
      .filter((r) => r.volser === v.volser)
      .sort((a, b) => a.position - b.position)
      .map((r) => {
        const clientFile = name.get(r.incarnation) ?? v.clientFiles.find((f) => f.incarnation === r.incarnation)?.clientFile ?? r.incarnation.slice(0, 8);
        return {
          incarnation: r.incarnation,
          clientFile,
          left: Math.min(1, r.position / scale),
          width: Math.max(0, Math.min(1, r.length / scale)),
          color: color.get(r.incarnation) ?? 0,
          title: `${clientFile}: superblocks ${r.firstSeq}–${r.firstSeq + r.superblocks - 1} at byte ${r.position} (${formatBytes(r.length)})`,
        };
      });
    const fill = v.fill ?? (capacity ? v.bytes / capacity : undefined);
    return {
      volser: v.volser,
      stream: v.stream,
      device: v.device,
      state: v.state,
      capacity,
      fill: fill === undefined ? undefined : Math.max(0, Math.min(1, fill)),
      expires: v.expiresAt === undefined ? '—' : v.expiresAt === null ? 'never' : formatTime(v.expiresAt),
      segments,
      clientFiles: v.clientFiles.map((f) => f.clientFile),
      ...(v.suspect ? { suspect: `${v.suspect.reason}${v.suspect.position !== undefined ? ` at ${v.suspect.position}` : ''}` } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------
// Health

/** Lag rows, the largest first, then by service, topic and partition; with each service's total. */
export function lagTable(h: HealthState): { rows: LagRow[]; totals: Array<{ service: string; lag: number; partitions: number }> } {
  const rows = h.services.flatMap((s) => s.lag);
  rows.sort((a, b) => b.lag - a.lag || a.service.localeCompare(b.service) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const totals = h.services.map((s) => ({ service: s.service, lag: s.lag.reduce((n, r) => n + r.lag, 0), partitions: s.lag.length }));
  return { rows, totals };
}

// ---------------------------------------------------------------------------------------
// Formats

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** ISO time without milliseconds, in UTC (the same on every machine). */
export function formatTime(ms: number | string | undefined | null): string {
  if (ms === undefined || ms === null) return '—';
  const d = new Date(typeof ms === 'string' && /^\d+$/.test(ms) ? Number(ms) : ms);
  return Number.isFinite(d.getTime()) ? `${d.toISOString().slice(0, 19).replace('T', ' ')}Z` : String(ms);
}

/** How the page names the point it shows. */
export function describePoint(s: Pick<ConsoleState, 'mode' | 'asOf'>): string {
  if (s.mode === 'live') return 'live';
  const a = s.asOf ?? {};
  const parts: string[] = [];
  if (a.eventsOffset !== undefined && a.eventsOffset !== null) parts.push(`dsf.events offset ${a.eventsOffset}`);
  if (a.sovOffset !== undefined && a.sovOffset !== null) parts.push(`sov.events offset ${a.sovOffset}`);
  if (a.time !== undefined && a.time !== null) parts.push(formatTime(a.time));
  return `as of ${parts.join(', ') || 'a past point'}`;
}

/** The "as of" control's input → the console API's query, or an error to show. */
export function asOfQuery(input: { by: 'offset' | 'time'; offset?: string; sovOffset?: string; time?: string }): { query: string } | { error: string } {
  if (input.by === 'offset') {
    const o = (input.offset ?? '').trim();
    const so = (input.sovOffset ?? '').trim();
    if (!/^\d+$/.test(o)) return { error: 'offset: a whole number (a position on dsf.events)' };
    if (so !== '' && !/^\d+$/.test(so)) return { error: 'sov.events offset: a whole number, or empty' };
    return { query: `offset=${o}${so ? `&sovOffset=${so}` : ''}` };
  }
  const t = (input.time ?? '').trim();
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`);
  if (t === '' || !Number.isFinite(ms)) return { error: 'time: a date and time, e.g. 2025-01-31T12:00:00Z' };
  return { query: `time=${encodeURIComponent(new Date(ms).toISOString())}` };
}
