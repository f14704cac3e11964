import { EncodedSuperblock } from './codec';
import { Device } from './device';
import { TapeStateError, TapeValidationError } from './errors';
import {
  AbortRecord,
  assertAbortRecord,
  assertCloseRecord,
  assertLabel,
  assertOpenRecord,
  CloseRecord,
  encodeHeader,
  encodeIndex,
  encodeRecord,
  FLAG_CONTINUATION,
  FLAG_LAST,
  HEADER_LENGTH,
  IndexBody,
  IndexMeta,
  jsonBody,
  MAX_SUPERBLOCK_BODY,
  OpenRecord,
  recordExtent,
  RunEntry,
  runEntrySize,
  VolumeLabel,
  writeU64,
} from './format';
import { NO_INCARNATION } from './names';
import { scanVolume, VolumeScan } from './scan';

/** S flag: first superblock of a run as written (so a full scan finds the runs the trailer lists). */
export const FLAG_RUN_START = 8;

/** Where a run lies: what the multiplexer reports (RunPlaced) once it is durable. */
export interface RunPlacement extends RunEntry {
  readonly volser: string;
}

/** What a sync made durable, in write order. */
export interface Durable {
  readonly runs: RunPlacement[];
  readonly opens: Array<{ readonly position: number; readonly record: OpenRecord; readonly continuation: boolean }>;
  readonly closes: Array<{ readonly position: number; readonly record: CloseRecord }>;
  readonly aborts: Array<{ readonly position: number; readonly record: AbortRecord }>;
}

export interface VolumeWriterOptions {
  /** write a checkpoint index record after every this many bytes (default 64 MiB) */
  readonly checkpointEveryBytes?: number;
}

/** Summary of a finished volume. */
export interface FinishedVolume {
  readonly label: VolumeLabel;
  readonly usedBytes: number;
  readonly trailerPosition: number;
  readonly nextVolser: string | null;
  readonly runs: number;
}

const E_BODY = 8;
/** Default distance between checkpoint index records. */
export const DEFAULT_CHECKPOINT_EVERY = 64 << 20;

/**
 * Writes one volume in format v2 on a device: label, then client-file records (open, runs of
 * superblocks, close, abort), a checkpoint index every N bytes, and at the end the trailer (label
 * copy, index of every record on the volume, next volser) and the end record pointing at it.
 *
 * For the stream multiplexer: appendRun() writes a run of one client file (its open record first
 * if this volume does not hold it yet, so that every volume describes itself) and returns its
 * placement, or fits what it can and hands back the rest when the volume is full; sync() makes
 * everything written durable and returns what became durable (emit the placement events then);
 * finish() closes the volume. Calls must not overlap (await each).
 */
export class VolumeWriter {
  private finished = false;
  private readonly opensHere = new Set<string>();
  private readonly all: { opens: Durable['opens']; closes: Durable['closes']; aborts: Durable['aborts']; runs: RunEntry[] };
  private since: { opens: Durable['opens']; closes: Durable['closes']; aborts: Durable['aborts']; runs: RunEntry[] };
  private pending: Durable = { runs: [], opens: [], closes: [], aborts: [] };
  private sinceFrom: number;
  private bytesSinceCheckpoint = 0;
  private lastCheckpoint: number | null = null;
  private checkpoints = 0;
  /** bytes the trailer will need (label copy, metadata JSON, run entries) */
  private trailerBytes: number;
  private readonly checkpointEvery: number;

  private constructor(
    readonly device: Device,
    readonly label: VolumeLabel,
    opts: VolumeWriterOptions,
    state?: VolumeScan,
  ) {
    this.checkpointEvery = opts.checkpointEveryBytes ?? label.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!(this.checkpointEvery >= 1 << 16)) throw new TapeValidationError('checkpointEveryBytes must be ≥ 64 KiB', 'checkpointEveryBytes');
    this.all = { opens: [], closes: [], aborts: [], runs: [] };
    this.since = { opens: [], closes: [], aborts: [], runs: [] };
    this.trailerBytes = 2 * HEADER_LENGTH + E_BODY + 1024 + jsonBody(label).length;
    this.sinceFrom = device.end();
    if (state) {
      for (const o of state.opens) this.noteOpen(o, false);
      for (const c of state.closes) this.noteMeta('closes', c);
      for (const a of state.aborts) this.noteMeta('aborts', a);
      for (const r of state.runs) this.noteRun(r, false);
      this.lastCheckpoint = state.lastCheckpoint;
      this.checkpoints = state.checkpoints;
      // What follows the last checkpoint goes into the next one.
      const after = state.lastCheckpointEnd ?? 0;
      this.since = {
        opens: this.all.opens.filter((o) => o.position >= after),
        closes: this.all.closes.filter((o) => o.position >= after),
        aborts: this.all.aborts.filter((o) => o.position >= after),
        runs: this.all.runs.filter((o) => o.position >= after),
      };
      this.sinceFrom = after;
    }
  }

  /** Labels a new volume on `device` (created there) and returns its writer. */
  static async label(device: Device, label: Omit<VolumeLabel, 'addressing' | 'capacity'> & { capacity?: number }, opts: VolumeWriterOptions = {}): Promise<VolumeWriter> {
    const full: VolumeLabel = {
      ...label,
      capacity: label.capacity ?? device.capacity,
      addressing: device.addressing,
      checkpointEvery: opts.checkpointEveryBytes ?? DEFAULT_CHECKPOINT_EVERY,
    };
    assertLabel(full);
    if (full.capacity > device.capacity) throw new TapeValidationError(`capacity ${full.capacity} exceeds the device's ${device.capacity}`, 'capacity');
    await device.create(full.volser);
    await device.append([encodeRecord('L', full.tag, 0, jsonBody(full), NO_INCARNATION, full.sequence)]);
    return new VolumeWriter(device, full, opts);
  }

  /**
   * Reopens a volume that was never finished (after a crash): rebuilds the index from its last
   * checkpoint onwards, cuts a torn tail, and continues appending. `recovered` says what is on it.
   */
  static async resume(device: Device, volser: string, opts: VolumeWriterOptions = {}): Promise<{ writer: VolumeWriter; recovered: VolumeScan }> {
    const scan = await scanVolume(device, volser);
    if (!scan.label) throw new TapeStateError(`volume ${volser}: no label or label copy found; it cannot be appended to`);
    if (scan.finished) throw new TapeStateError(`volume ${volser} is finished (trailer written)`);
    await device.mount(volser);
    if (device.end() > scan.validEnd) await device.truncate(scan.validEnd);
    return { writer: new VolumeWriter(device, scan.label, opts, scan), recovered: scan };
  }

  get volser(): string {
    return this.label.volser;
  }

  /** Bytes still free for records, the trailer's room set aside. */
  get free(): number {
    return this.label.capacity - this.device.usedBytes() - this.trailerBytes;
  }

  private assertOpen(): void {
    if (this.finished) throw new TapeStateError(`volume ${this.volser} is finished`);
    if (this.device.mounted !== this.volser) throw new TapeStateError(`volume ${this.volser} is not mounted on ${this.device.name}`);
  }

  private noteOpen(o: Durable['opens'][number], pending = true): void {
    this.opensHere.add(o.record.incarnation);
    this.all.opens.push(o);
    this.since.opens.push(o);
    this.trailerBytes += jsonBody(o).length + 2;
    if (pending) this.pending.opens.push(o);
  }

  private noteMeta<K extends 'closes' | 'aborts'>(kind: K, m: Durable[K][number], pending = false): void {
    (this.all[kind] as Array<typeof m>).push(m);
    (this.since[kind] as Array<typeof m>).push(m);
    this.trailerBytes += jsonBody(m).length + 2;
    if (pending) (this.pending[kind] as Array<typeof m>).push(m);
  }

  private noteRun(r: RunEntry, pending = true): void {
    this.all.runs.push(r);
    this.since.runs.push(r);
    this.trailerBytes += runEntrySize(r.count);
    if (pending) this.pending.runs.push({ ...r, volser: this.volser });
  }

  private metaBytes(kind: 'O' | 'C' | 'A', body: Buffer): number {
    return HEADER_LENGTH + body.length + (kind === 'O' ? 2 * body.length : body.length) + 64;
  }

  /** Writes the open record of a client file on this volume (done by appendRun when missing). */
  async writeOpen(open: OpenRecord, continuation = false): Promise<void> {
    this.assertOpen();
    assertOpenRecord(open);
    if (this.opensHere.has(open.incarnation)) return;
    const body = jsonBody(open);
    if (this.metaBytes('O', body) > this.free) throw new TapeStateError(`volume ${this.volser} is full`);
    const [position] = await this.device.append([encodeRecord('O', this.label.tag, this.device.end(), body, open.incarnation, 0, continuation ? FLAG_CONTINUATION : 0)]);
    this.noteOpen({ position, record: open, continuation });
    await this.afterWrite(HEADER_LENGTH + body.length);
  }

  /**
   * Appends a run: consecutive superblocks of one client file (encoded by its ClientFileSession).
   * Writes as many as fit; `placement` is null when none fit, and `rest` holds what did not fit
   * (finish this volume and append the rest on the next).
   */
  async appendRun(open: OpenRecord, superblocks: readonly EncodedSuperblock[]): Promise<{ placement: RunPlacement | null; rest: EncodedSuperblock[] }> {
    this.assertOpen();
    if (superblocks.length === 0) throw new TapeValidationError('a run needs at least one superblock', 'superblocks');
    superblocks.forEach((s, i) => {
      if (s.seq !== superblocks[0].seq + i) throw new TapeValidationError(`run is not consecutive: seq ${s.seq} after ${superblocks[0].seq + i - 1}`, 'superblocks');
      if (s.flags & FLAG_LAST && i !== superblocks.length - 1) throw new TapeValidationError(`superblock ${s.seq} is flagged last but more follow in the run`, 'superblocks');
      if (s.body.length > MAX_SUPERBLOCK_BODY) throw new TapeValidationError(`superblock ${s.seq} body too large`, 'superblocks');
    });
    let room = this.free;
    if (!this.opensHere.has(open.incarnation)) room -= this.metaBytes('O', jsonBody(open));
    let n = 0;
    let bytes = 0;
    for (const s of superblocks) {
      const cost = HEADER_LENGTH + s.body.length + runEntrySize(n + 1) - runEntrySize(n);
      if (bytes + cost > room - runEntrySize(0)) break;
      bytes += cost;
      n++;
    }
    if (n === 0) return { placement: null, rest: [...superblocks] };
    if (!this.opensHere.has(open.incarnation)) await this.writeOpen(open, superblocks[0].seq > 0);
    const take = superblocks.slice(0, n);
    let position = this.device.end();
    const records = take.map((s, i) => {
      const flags = s.flags | (i === 0 ? FLAG_RUN_START : 0);
      const header = encodeHeader({
        kind: 'S',
        flags,
        tag: this.label.tag,
        position,
        bodyLength: s.body.length,
        bodyCrc: s.bodyCrc,
        incarnation: open.incarnation,
        seq: s.seq,
        rawLength: s.rawLength,
        contentCrc: s.contentCrc,
      });
      position += recordExtent(this.label.addressing, s.body.length);
      return [header, s.body];
    });
    const positions = await this.device.append(records);
    const entry: RunEntry = {
      incarnation: open.incarnation,
      firstSeq: take[0].seq,
      count: n,
      last: (take[n - 1].flags & FLAG_LAST) !== 0,
      position: positions[0],
      extent: this.device.end() - positions[0],
      bytes: take.reduce((a, s) => a + s.rawLength, 0),
      crcs: take.map((s) => s.contentCrc),
    };
    this.noteRun(entry);
    await this.afterWrite(take.reduce((a, s) => a + HEADER_LENGTH + s.body.length, 0));
    return { placement: { ...entry, volser: this.volser }, rest: superblocks.slice(n) };
  }

  /** Writes a client file's close record (its open record first if this volume lacks it). */
  async writeClose(open: OpenRecord, close: CloseRecord): Promise<void> {
    assertCloseRecord(close);
    await this.writeMeta('C', open, close, 'closes');
  }

  /** Writes a client file's abort record: a scan then never reports it as restorable. */
  async writeAbort(open: OpenRecord, abort: AbortRecord): Promise<void> {
    assertAbortRecord(abort);
    await this.writeMeta('A', open, abort, 'aborts');
  }

  private async writeMeta(kind: 'C' | 'A', open: OpenRecord, record: CloseRecord | AbortRecord, list: 'closes' | 'aborts'): Promise<void> {
    this.assertOpen();
    if (record.incarnation !== open.incarnation) throw new TapeValidationError('record and open record name different incarnations', 'incarnation');
    const body = jsonBody(record);
    const need = this.metaBytes(kind, body) + (this.opensHere.has(open.incarnation) ? 0 : this.metaBytes('O', jsonBody(open)));
    if (need > this.free) throw new TapeStateError(`volume ${this.volser} is full`);
    if (!this.opensHere.has(open.incarnation)) await this.writeOpen(open, true);
    const [position] = await this.device.append([encodeRecord(kind, this.label.tag, this.device.end(), body, record.incarnation)]);
    this.noteMeta(list, { position, record } as any, true);
    await this.afterWrite(HEADER_LENGTH + body.length);
  }

  private async afterWrite(bytes: number): Promise<void> {
    this.bytesSinceCheckpoint += bytes;
    if (this.bytesSinceCheckpoint < this.checkpointEvery) return;
    const body = encodeIndex(this.indexBody(this.checkpoints + 1, this.since, this.sinceFrom));
    // A checkpoint that does not fit is skipped: the trailer follows soon.
    if (HEADER_LENGTH + body.length > this.free) return;
    const [position] = await this.device.append([encodeRecord('K', this.label.tag, this.device.end(), body, NO_INCARNATION, this.checkpoints + 1)]);
    this.checkpoints++;
    this.lastCheckpoint = position;
    this.bytesSinceCheckpoint = 0;
    this.since = { opens: [], closes: [], aborts: [], runs: [] };
    this.sinceFrom = this.device.end();
  }

  private indexBody(number: number, part: VolumeWriter['since'], from: number, extra: Partial<IndexMeta> = {}): IndexBody {
    return {
      meta: { label: this.label, number, from, previous: this.lastCheckpoint, opens: part.opens, closes: part.closes, aborts: part.aborts, ...extra },
      runs: part.runs,
    };
  }

  /** Makes everything written durable; returns what became durable since the previous sync. */
  async sync(): Promise<Durable> {
    await this.device.sync();
    const d = this.pending;
    this.pending = { runs: [], opens: [], closes: [], aborts: [] };
    return d;
  }

  /**
   * Finishes the volume: trailer (label copy, every record's index entry, next volser), end
   * record, sync. Returns what became durable as sync() does, and the summary.
   */
  async finish(opts: { finishedAt: number; nextVolser?: string | null }): Promise<{ durable: Durable; volume: FinishedVolume }> {
    this.assertOpen();
    const body = encodeIndex(this.indexBody(0, this.all, 0, { nextVolser: opts.nextVolser ?? null, finishedAt: opts.finishedAt }));
    const at = this.device.end();
    const tPos = at;
    const e = Buffer.alloc(E_BODY);
    writeU64(e, tPos, 0);
    const ePos = tPos + recordExtent(this.label.addressing, body.length);
    await this.device.append([encodeRecord('T', this.label.tag, tPos, body), encodeRecord('E', this.label.tag, ePos, e)]);
    const durable = await this.sync();
    this.finished = true;
    return { durable, volume: { label: this.label, usedBytes: this.device.usedBytes(), trailerPosition: tPos, nextVolser: opts.nextVolser ?? null, runs: this.all.runs.length } };
  }
}
