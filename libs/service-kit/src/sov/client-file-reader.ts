/**
 * Reads a client file back: its placements come from the catalog's read model over HTTP
 * (GET /client-files/:incarnation/placements; by name, GET /client-files?stream=&name= picks the
 * newest closed incarnation), then only its own runs are read from the volumes, each located
 * directly (libs/tape readClientFile: every header, CRC, sequence, catalog CRC and the close
 * record's count, bytes and SHA-256 verified). Nothing of other client files is read through.
 *
 * HTTP rather than PostgreSQL: the reader runs in the save writer, merge engine and DSIM builder,
 * which do not hold the catalog's database credentials, and the catalog's JSON is its contract.
 */
import { FileDevice, readClientFile, type CodecSpec, type Device, type OpenRecord, type RestoreRun } from '@deltaflow/tape';
import { SovClientError } from './errors';
import { StreamReadCoordinator } from './stream-read-coordinator';

/** GET /client-files/:incarnation/placements. */
export interface ClientFilePlacements {
  readonly incarnation: string;
  readonly clientFile: string;
  readonly stream: string;
  readonly state: 'open' | 'closed' | 'aborted' | 'expired';
  readonly open: OpenRecord & { readonly codec: CodecSpec };
  readonly close: { readonly superblocks: number; readonly bytes: number; readonly sha256: string; readonly closedAt: number } | null;
  readonly runs: ReadonlyArray<{
    readonly volser: string;
    readonly position: number;
    readonly length: number;
    readonly firstSeq: number;
    readonly superblocks: number;
    readonly last: boolean;
    readonly bytes: number;
    readonly crcs: readonly number[];
  }>;
  readonly volsers: readonly string[];
}

export type ClientFileId = { readonly incarnation: string } | { readonly stream: string; readonly clientFile: string };

export interface ClientFileReaderOptions {
  /** the catalog's base URL, e.g. http://127.0.0.1:8080 */
  readonly catalogUrl: string;
  /** the volume library (SOV_VOLUME_DIR); a read-only mount is enough */
  readonly volumeDir?: string;
  /** or the device to read from (a tape drive model in tests) */
  readonly device?: Device;
  /** the operator key of encrypted client files */
  readonly operatorKey?: Buffer;
  /** wait up to this long for the catalog to show the client file closed (default 30 s) */
  readonly waitMs?: number;
  /**
   * Restores of one stream share passes over its volumes (StreamReadCoordinator): those started
   * within `windowMs` (default 200 ms), or while a pass is under way, are served together. false:
   * every read seeks to its own runs alone.
   */
  readonly coordinate?: { readonly windowMs?: number } | false;
}

export class ClientFileReader {
  /** the per-stream read coordinator (undefined with `coordinate: false`) */
  readonly coordinator?: StreamReadCoordinator;

  constructor(private readonly o: ClientFileReaderOptions) {
    if (!o.device && !o.volumeDir) throw new SovClientError('ILLEGAL_STATE', 'a client file reader needs volumeDir or device');
    if (o.coordinate !== false)
      this.coordinator = new StreamReadCoordinator({
        deviceFor: (stream) => o.device ?? new FileDevice({ dir: o.volumeDir!, capacity: Number.MAX_SAFE_INTEGER, readOnly: true, name: `reader:${stream}` }),
        releaseDevice: async (_stream, device) => {
          if (!o.device) await device.unmount();
        },
        ...(o.operatorKey ? { operatorKey: o.operatorKey } : {}),
        ...(o.coordinate?.windowMs !== undefined ? { windowMs: o.coordinate.windowMs } : {}),
      });
  }

  private async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.o.catalogUrl.replace(/\/$/, '')}${path}`);
    } catch (e) {
      throw new SovClientError('CATALOG', `catalog at ${this.o.catalogUrl} unreachable: ${(e as Error).message}`, true);
    }
    if (res.status === 404) throw new SovClientError('NOT_FOUND', `catalog: ${path}: not found`);
    if (!res.ok) throw new SovClientError('CATALOG', `catalog: ${path}: HTTP ${res.status} ${await res.text()}`, res.status >= 500);
    return (await res.json()) as T;
  }

  /** The placements of a closed client file (waiting for the catalog to catch up). */
  async placements(id: ClientFileId): Promise<ClientFilePlacements> {
    const deadline = Date.now() + (this.o.waitMs ?? 30_000);
    for (;;) {
      let p: ClientFilePlacements | null = null;
      try {
        p = await this.lookup(id);
      } catch (e) {
        if (!(e instanceof SovClientError && e.code === 'NOT_FOUND')) throw e;
      }
      if (p?.state === 'closed') return p;
      if (p?.state === 'aborted') throw new SovClientError('ABORTED', `client file ${p.clientFile} (${p.incarnation}) was aborted: it cannot be read as a whole`);
      if (p?.state === 'expired') throw new SovClientError('NOT_FOUND', `client file ${p.clientFile} (${p.incarnation}) expired`);
      if (Date.now() > deadline)
        throw new SovClientError(p ? 'ILLEGAL_STATE' : 'NOT_FOUND', p ? `client file ${p.clientFile} (${p.incarnation}) is still ${p.state}` : `no client file ${JSON.stringify(id)} in the catalog`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async lookup(id: ClientFileId): Promise<ClientFilePlacements> {
    if ('incarnation' in id) return this.get<ClientFilePlacements>(`/client-files/${encodeURIComponent(id.incarnation)}/placements`);
    const list = await this.get<Array<{ incarnation: string; state: string; openedAt: number }>>(`/client-files?stream=${encodeURIComponent(id.stream)}&name=${encodeURIComponent(id.clientFile)}`);
    const newest = list.filter((f) => f.state === 'closed').sort((a, b) => b.openedAt - a.openedAt)[0] ?? list.sort((a, b) => b.openedAt - a.openedAt)[0];
    if (!newest) throw new SovClientError('NOT_FOUND', `no client file ${id.stream}/${id.clientFile}`);
    return this.get<ClientFilePlacements>(`/client-files/${encodeURIComponent(newest.incarnation)}/placements`);
  }

  /** The client file's bytes, superblock by superblock, verified against the catalog and its close record. */
  async *read(id: ClientFileId): AsyncGenerator<Buffer> {
    const p = await this.placements(id);
    if (this.coordinator) {
      yield* this.coordinator.read(p);
      return;
    }
    const device = this.o.device ?? new FileDevice({ dir: this.o.volumeDir!, capacity: Number.MAX_SAFE_INTEGER, readOnly: true, name: 'reader' });
    const runs: RestoreRun[] = p.runs.map((r) => ({ volser: r.volser, position: r.position, extent: r.length, incarnation: p.incarnation, firstSeq: r.firstSeq, count: r.superblocks, crcs: r.crcs }));
    const close = p.close ? { incarnation: p.incarnation, ...p.close } : undefined;
    try {
      if (runs.length === 0) {
        // an empty client file still has its one (empty) superblock: no runs means not placed
        throw new SovClientError('NOT_FOUND', `client file ${p.clientFile} (${p.incarnation}) has no placed runs`);
      }
      yield* readClientFile(device, p.open, runs, { ...(this.o.operatorKey ? { keyring: this.o.operatorKey } : {}), ...(close ? { close } : {}) });
    } finally {
      if (!this.o.device) await device.unmount();
    }
  }

  /** The whole client file in memory (small files, tests). */
  async readAll(id: ClientFileId): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of this.read(id)) parts.push(Buffer.from(b));
    return Buffer.concat(parts);
  }
}
