/**
 * What the console's API aggregates: the catalog's query API (CATALOG_URL) for the live state and
 * its `GET /at` for a past point, every service's /metrics for the consumer lag, and the Kafka
 * tail for dead letters and rejections. Requests carry the console's HTTP_TOKEN (the token every
 * service of one system shares), as `dsf` does.
 */
import type { ClientFileRow, ConsoleState, DatabaseRows, DlogRow, DsimRow, RetentionRow, HealthState, LineageRow, RestoreRow, RunRow, SaveRow, StreamRow, VolumeRow, AtAnswer } from '../ui/rows';
import { stateFromAt } from '../ui/view-model';
import type { EventTail } from './event-tail';
import { lagOf } from './prometheus';

export interface ConsoleDataOptions {
  readonly catalogUrl: string;
  /** service name → base URL, for /metrics */
  readonly services: ReadonlyMap<string, string>;
  readonly token?: string;
  /** client files whose placements are read (the most recent ones), default 200 */
  readonly maxClientFiles?: number;
  readonly timeoutMs?: number;
}

/** A catalog answer other than 200: its status and message, for the page. */
export class UpstreamError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const AS_OF_UNAVAILABLE = 'as of: not available from this catalog';

export class ConsoleData {
  constructor(
    private readonly o: ConsoleDataOptions,
    private readonly tail: EventTail,
  ) {}

  private async get<T>(base: string, p: string, accept = 'application/json'): Promise<T> {
    const headers: Record<string, string> = { accept };
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    const res = await fetch(`${base}${p}`, { headers, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = String(JSON.parse(text).message ?? message);
      } catch {
        // not JSON: the text itself
      }
      throw new UpstreamError(res.status, `${base}${p.split('?')[0]}: ${res.status} ${message}`);
    }
    return (accept === 'application/json' ? JSON.parse(text) : text) as T;
  }

  private catalog<T>(p: string): Promise<T> {
    return this.get<T>(this.o.catalogUrl, p);
  }

  /** The live state: every database's chain, DSIMs, lineages, restores, DLOG; the streams, volumes and runs. */
  async live(): Promise<ConsoleState> {
    const dbids = await this.catalog<number[]>('/databases');
    const databases: DatabaseRows[] = await Promise.all(
      dbids.map(async (dbid) => {
        const [saves, dsims, lineages, restores, report] = await Promise.all([
          this.catalog<SaveRow[]>(`/saves?dbid=${dbid}`),
          this.catalog<DsimRow[]>(`/dsims?dbid=${dbid}`),
          this.catalog<LineageRow[]>(`/lineages?dbid=${dbid}`),
          this.catalog<RestoreRow[]>(`/restores?dbid=${dbid}`),
          // the DLOG and the data set retention: without the topic retentions, no Kafka round trips per refresh
          this.catalog<{ dlog: DlogRow | null; retention?: { dataSets?: RetentionRow } }>(`/report?dbid=${dbid}&topics=0`),
        ]);
        return { dbid, saves, dsims, lineages, restores: restores.map((r) => ({ ...r, dbid })), dlog: report.dlog, retention: report.retention?.dataSets ?? null };
      }),
    );
    const [streams, volumes, clientFiles] = await Promise.all([
      this.catalog<StreamRow[]>('/streams'),
      this.catalog<VolumeRow[]>('/volumes'),
      this.catalog<ClientFileRow[]>('/client-files'),
    ]);
    return { mode: 'live', databases, streams, volumes, clientFiles, runs: await this.runsOf(clientFiles), notes: this.notesOf(clientFiles), fetchedAt: Date.now() };
  }

  /** The state at a past point, from the catalog's `GET /at?<query>`; a catalog without it: `unavailable`. */
  async asOf(query: string): Promise<ConsoleState> {
    let at: AtAnswer;
    try {
      at = await this.catalog<AtAnswer>(`/at?${query}`);
    } catch (e) {
      if (e instanceof UpstreamError && e.status === 404) {
        // no such route (a catalog without the auditor's tools), or the catalog's own reason
        const detail = /Cannot GET \/at/.test(e.message) ? '' : ` (${e.message})`;
        return { mode: 'as-of', unavailable: `${AS_OF_UNAVAILABLE}${detail}`, databases: [], streams: [], volumes: [], clientFiles: [], runs: [], notes: [], fetchedAt: Date.now() };
      }
      throw e;
    }
    const clientFiles = at.clientFiles ?? [];
    const runs = await this.runsOf(clientFiles);
    return stateFromAt({ ...at, streams: at.streams ?? [], volumes: at.volumes ?? [], clientFiles, lineages: at.lineages ?? [], restores: at.restores ?? [] }, runs, Date.now());
  }

  private notesOf(clientFiles: readonly ClientFileRow[]): string[] {
    const max = this.o.maxClientFiles ?? 200;
    return clientFiles.length > max ? [`volume strips show the runs of the ${max} most recent client files of ${clientFiles.length}`] : [];
  }

  /** The runs of the most recent client files (their placements), without CRCs. */
  private async runsOf(clientFiles: readonly ClientFileRow[]): Promise<RunRow[]> {
    const recent = [...clientFiles].filter((f) => f.runs > 0).sort((a, b) => b.openedAt - a.openedAt).slice(0, this.o.maxClientFiles ?? 200);
    const out: RunRow[] = [];
    for (let i = 0; i < recent.length; i += 16) {
      const batch = await Promise.all(
        recent.slice(i, i + 16).map((f) =>
          this.catalog<{ runs: Array<Omit<RunRow, 'incarnation'>> }>(`/client-files/${encodeURIComponent(f.incarnation)}/placements`).then(
            (p) => p.runs.map((r) => ({ incarnation: f.incarnation, volser: r.volser, position: r.position, length: r.length, firstSeq: r.firstSeq, superblocks: r.superblocks })),
            (e) => {
              if (e instanceof UpstreamError && e.status === 404) return []; // gone since the list was read
              throw e;
            },
          ),
        ),
      );
      for (const b of batch) out.push(...b);
    }
    return out;
  }

  /** Lag per service and partition (each service's /metrics), dead letters and rejections (the tail). */
  async health(): Promise<HealthState> {
    const services = await Promise.all(
      [...this.o.services].map(async ([service, url]) => {
        try {
          const text = await this.get<string>(url, '/metrics', 'text/plain');
          const { lag, deadLettered } = lagOf(service, text);
          return { service, url, up: true, lag, deadLettered };
        } catch (e) {
          return { service, url, up: false, error: (e as Error).message, lag: [], deadLettered: 0 };
        }
      }),
    );
    return {
      services,
      deadLetters: this.tail.recentDeadLetters(),
      rejections: this.tail.recentRejections(),
      positions: this.tail.positionsNow(),
      tail: this.tail.status(),
      fetchedAt: Date.now(),
    };
  }
}

/**
 * CONSOLE_SERVICES: `name=url,name=url` (the services whose /metrics the console reads); the
 * catalog is always among them. CONFIG-like error text on a malformed entry.
 */
export function servicesFromEnv(raw: string | undefined, catalogUrl: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]{0,63})=(https?:\/\/[^\s,]+)$/.exec(part);
    if (!m) throw new Error(`CONSOLE_SERVICES: expected name=http://host:port entries separated by commas, got "${part.slice(0, 80)}"`);
    out.set(m[1], m[2].replace(/\/+$/, ''));
  }
  if (!out.has('catalog')) out.set('catalog', catalogUrl.replace(/\/+$/, ''));
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}
