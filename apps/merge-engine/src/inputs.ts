/**
 * Where a merge's or restore's inputs come from, behind one interface: an input reference (a
 * data set name, `@dsim`, or `stream:S/F`) becomes a readable data set file for the
 * duration of one operation.
 *
 * `stream:S/F` is the newest closed client file F on stream S: its placements come from the
 * catalog, only its own runs are read from the volumes (the service kit's ClientFileReader, every
 * CRC and the close record's SHA-256 checked) into a staging file under `<dataDir>/staging/`,
 * removed when the operation releases it.
 *
 * `@dsim` is the database's original DSIM where it lives: the DSIM builder (its one authority)
 * copies it into an `original-dsim` data set without freeing it (DsimSnapshotRequested); with
 * DSIMWAIT (`dsimWaitSec`) an input whose DSIM is not complete yet is asked again until it is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { safePathIn } from '@deltaflow/core';
import { ORIGINAL_DSIM_INPUT, type MessageOfType } from '@deltaflow/contracts';
import { formatDsid, type Dsid } from '@deltaflow/dsid';
import { dataSetPath } from '@deltaflow/save-format';

/** An input ready to be read, and how to give it back. */
export interface ResolvedInput {
  readonly ref: string;
  readonly path: string;
  /** the DSID of the original DSIM it copies, for `@dsim` */
  readonly originalDsim?: Dsid;
  release(): void;
}

export class InputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly input?: string,
  ) {
    super(message);
  }
}

/** What the resolver needs from the service: ask the DSIM builder for a snapshot and wait for its answer. */
export interface SnapshotPort {
  snapshot(dbid: number, correlationId: string, destination: string): Promise<MessageOfType<'DsimSnapshotted'> | MessageOfType<'CommandRejected'>>;
}

/** Reads a client file of a stream (the service kit's ClientFileReader); absent: stream inputs are refused. */
export interface StreamPort {
  read(id: { stream: string; clientFile: string }): AsyncIterable<Uint8Array>;
}

/** What the resolver learns from dsf.events: data sets the retention deleted, and names written again since. */
type InputFact = MessageOfType<'DataSetExpired'> | MessageOfType<'SaveCompleted'> | MessageOfType<'MergeCompleted'> | MessageOfType<'DsimUnloaded'>;
const isInputFact = (m: { type: string }): m is InputFact => m.type === 'DataSetExpired' || m.type === 'SaveCompleted' || m.type === 'MergeCompleted' || m.type === 'DsimUnloaded';

export class InputResolver {
  /** data sets the retention deleted, by `<dbid>/<name>` (a restore or merge from them is refused with DATA_SET_EXPIRED) */
  private readonly expired = new Map<string, MessageOfType<'DataSetExpired'>>();

  constructor(
    private readonly dataDir: string,
    private readonly dsim: SnapshotPort,
    private readonly log: (m: string) => void,
    private readonly streams?: StreamPort,
  ) {}

  /**
   * Resolves every input (returned in the order given); on any failure releases what was resolved.
   * The stream inputs are read all at once, so that those on one stream share one pass over its
   * volumes (the reader's StreamReadCoordinator); the others one after another.
   */
  async resolveAll(dbid: number, correlationId: string, refs: readonly string[], dsimWaitSec = 0): Promise<ResolvedInput[]> {
    const out: Array<ResolvedInput | undefined> = refs.map(() => undefined);
    const streamed = Promise.allSettled(refs.map(async (ref, i) => (ref.startsWith('stream:') ? (out[i] = await this.fromStream(correlationId, ref)) : undefined)));
    let failure: { e: unknown } | null = null;
    try {
      for (let i = 0; i < refs.length; i++) if (!refs[i].startsWith('stream:')) out[i] = await this.resolve(dbid, correlationId, refs[i], dsimWaitSec);
    } catch (e) {
      failure = { e };
    }
    const settled = await streamed;
    const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failure && rejected) failure = { e: rejected.reason };
    if (failure) {
      for (const r of out) r?.release();
      throw failure.e;
    }
    return out as ResolvedInput[];
  }

  /** Folds what the log says about data set names (every dsf.events record, in order; idempotent). */
  noteLog(m: { type: string }): void {
    if (!isInputFact(m)) return;
    if (m.type === 'DataSetExpired') for (const n of m.names) this.expired.set(`${m.dbid}/${n}`, m);
    else if (m.location.kind === 'directory') this.expired.delete(`${m.dbid}/${m.location.name}`); // the name was written again
  }

  private async resolve(dbid: number, correlationId: string, ref: string, dsimWaitSec: number): Promise<ResolvedInput> {
    const gone = this.expired.get(`${dbid}/${ref}`);
    if (gone)
      throw new InputError(
        'DATA_SET_EXPIRED',
        `data set ${ref} expired at ${new Date(gone.occurredAt).toISOString()}: the retention deleted it with save ${gone.save} (${formatDsid(gone.dsid)}): ${gone.reason}`,
        ref,
      );
    if (ref === ORIGINAL_DSIM_INPUT) return this.originalDsim(dbid, correlationId, dsimWaitSec);
    if (ref.startsWith('stream:')) return this.fromStream(correlationId, ref);
    let file: string;
    try {
      file = dataSetPath(this.dataDir, ref);
    } catch (e) {
      throw new InputError('VALIDATION', (e as Error).message, ref);
    }
    if (!fs.existsSync(file)) throw new InputError('NOT_FOUND', `no data set ${ref}`, ref);
    return { ref, path: file, release: () => undefined };
  }

  private async fromStream(correlationId: string, ref: string): Promise<ResolvedInput> {
    const m = /^stream:([^/]+)\/(.+)$/.exec(ref);
    if (!m) throw new InputError('VALIDATION', `expected stream:STREAM/FILE, got ${ref}`, ref);
    if (!this.streams) throw new InputError('UNSUPPORTED', `stream inputs (${ref}) need the catalog: give the merge engine CATALOG_URL (and SOV_VOLUME_DIR)`, ref);
    const file = safePathIn(path.join(this.dataDir, 'staging'), `input-${safeSuffix(`${correlationId}-${m[1]}-${m[2]}`)}`, 'staging file');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const out = fs.createWriteStream(file);
    try {
      for await (const chunk of this.streams.read({ stream: m[1], clientFile: m[2] })) {
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    } catch (e) {
      out.destroy();
      fs.rmSync(file, { force: true });
      const code = (e as { code?: unknown }).code;
      // a client file that is not there (or aborted, expired) is the input's fault; the catalog away is transient
      if (code === 'NOT_FOUND' || code === 'ABORTED' || code === 'ILLEGAL_STATE') throw new InputError('NOT_FOUND', `${ref}: ${(e as Error).message}`, ref);
      throw e;
    }
    this.log(`${correlationId}: ${ref} read from its stream (${fs.statSync(file).size} bytes)`);
    return { ref, path: file, release: () => fs.rmSync(file, { force: true }) };
  }

  private async originalDsim(dbid: number, correlationId: string, dsimWaitSec: number): Promise<ResolvedInput> {
    const deadline = Date.now() + dsimWaitSec * 1000;
    for (let attempt = 1; ; attempt++) {
      const id = attempt === 1 ? `${correlationId}.dsim` : `${correlationId}.dsim.${attempt}`;
      const name = `dsim-snapshot-${safeSuffix(id)}`;
      const answer = await this.dsim.snapshot(dbid, id, name);
      if (answer.type === 'DsimSnapshotted') {
        const file = dataSetPath(this.dataDir, name);
        return { ref: ORIGINAL_DSIM_INPUT, path: file, originalDsim: answer.dsid, release: () => fs.rmSync(file, { force: true }) };
      }
      // DSIMWAIT (seed: "The merge function waits for completion of the DSIM data set if the DSIMWAIT parameter is specified")
      if (answer.code === 'DSIM_NOT_COMPLETE' && Date.now() < deadline) {
        if (attempt === 1) this.log(`${correlationId}: the original DSIM is not complete yet; waiting up to ${dsimWaitSec} s (DSIMWAIT)`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      throw new InputError(answer.code, `the original DSIM (@dsim): ${answer.reason}`, ORIGINAL_DSIM_INPUT);
    }
  }
}

/** A data-set-name-safe suffix from a correlation id. */
function safeSuffix(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
}
