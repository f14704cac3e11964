import { Device } from './device';
import { TapeCorruptError } from './errors';
import {
  AbortRecord,
  assertAbortRecord,
  assertCloseRecord,
  assertLabel,
  assertOpenRecord,
  CloseRecord,
  decodeHeader,
  decodeIndex,
  FLAG_CONTINUATION,
  FLAG_LAST,
  HEADER_LENGTH,
  IndexBody,
  OpenRecord,
  parseJsonBody,
  RECORD_MAGIC,
  readU64,
  RecordHeader,
  recordExtent,
  RunEntry,
  VolumeLabel,
} from './format';
import { checkRecord, Damage, walkRecords } from './records';

/*
 * SCANSTREAMFILE for one volume, in three ways, cheapest first:
 *   1. trailer: read the label, the end record and the trailer it points at (the whole index);
 *   2. checkpoint (a volume torn before its trailer): find the last checkpoint near the end, follow
 *      the checkpoint chain back for the index up to it, and verify-read only what follows it;
 *   3. full: verify-read every record, resynchronising after damage.
 * A damaged label is replaced by the copy in the trailer or a checkpoint; the volume tag by the
 * majority of authentic headers. All three give the same records, in write order.
 */

/** S flag: first superblock of a run (see writer.ts). */
const FLAG_RUN_START = 8;

export interface VolumeScan {
  /** the name the volume was mounted by (file name on a file device) */
  readonly volser: string;
  readonly label: VolumeLabel | null;
  readonly labelFrom: 'label' | 'trailer' | 'checkpoint' | null;
  readonly tag: string | null;
  readonly method: 'trailer' | 'checkpoint' | 'full';
  /** a trailer was found: the volume was finished */
  readonly finished: boolean;
  readonly finishedAt: number | null;
  readonly nextVolser: string | null;
  readonly opens: Array<{ readonly position: number; readonly record: OpenRecord; readonly continuation: boolean }>;
  readonly closes: Array<{ readonly position: number; readonly record: CloseRecord }>;
  readonly aborts: Array<{ readonly position: number; readonly record: AbortRecord }>;
  readonly runs: RunEntry[];
  readonly damage: Damage[];
  /** position after the last valid record */
  readonly validEnd: number;
  /** position after the last byte/block on the volume */
  readonly end: number;
  readonly checkpoints: number;
  readonly lastCheckpoint: number | null;
  /** position just after the last checkpoint */
  readonly lastCheckpointEnd: number | null;
  /** position units read by the scan */
  readonly read: number;
}

export interface ScanOptions {
  /** 'auto' (default) uses the trailer or the last checkpoint when it can; 'full' reads every record */
  readonly mode?: 'auto' | 'full';
  /** how far back from the end to look for the last checkpoint (default: 2 × the label's checkpoint interval + 16 MiB, or 256 MiB) */
  readonly checkpointSearch?: number;
}

type Rec = { header: RecordHeader; body: Buffer; extent: number };

/** Reads and verifies the record at `position` (header, declared position, tag, body CRC), or null. */
export async function readRecordAt(device: Device, position: number, tag?: string): Promise<Rec | { error: string }> {
  if (device.addressing === 'block') {
    const [b] = await device.read(position, 1);
    if (!b) return { error: 'no block there' };
    const c = checkRecord(b, 0, position, tag, 'block');
    return c.ok ? { header: c.header, body: b.subarray(HEADER_LENGTH), extent: 1 } : { error: c.reason };
  }
  const [head] = await device.read(position, HEADER_LENGTH);
  const d = decodeHeader(head);
  if (!d.ok) return { error: d.reason };
  const [whole] = await device.read(position, HEADER_LENGTH + d.header.bodyLength);
  const c = checkRecord(whole, 0, position, tag, 'byte');
  return c.ok ? { header: c.header, body: whole.subarray(HEADER_LENGTH), extent: c.extent } : { error: c.reason };
}

function parseLabel(body: Buffer): VolumeLabel {
  return parseJsonBody<VolumeLabel>(body, 'label', assertLabel);
}

/**
 * The label of the mounted volume: the L record, else the trailer's copy, else the last
 * checkpoint's. Used by readers; throws TapeCorruptError when none is readable.
 */
export async function readLabel(device: Device, volser: string): Promise<{ label: VolumeLabel; from: 'label' | 'trailer' | 'checkpoint'; labelEnd?: number }> {
  await device.mount(volser);
  const l = await readRecordAt(device, 0);
  if ('header' in l && l.header.kind === 'L') {
    try {
      // labelEnd: where the head stands now (a reader may read through from there)
      return { label: parseLabel(l.body), from: 'label', labelEnd: l.extent };
    } catch {
      /* fall through to the copies */
    }
  }
  const t = await readTrailer(device, undefined);
  if (t) return { label: t.meta.label, from: 'trailer' };
  const k = await findLastCheckpoint(device, undefined, 256 << 20);
  if (k) return { label: k.index.meta.label, from: 'checkpoint' };
  throw new TapeCorruptError(`volume ${volser}: label unreadable and no trailer or checkpoint copy found`, { volser, offset: 0 });
}

async function readTrailer(device: Device, tag: string | undefined): Promise<{ meta: IndexBody['meta']; runs: IndexBody['runs']; position: number; extent: number; read: number } | null> {
  const end = device.end();
  const eExtent = recordExtent(device.addressing, 8);
  if (end < eExtent) return null;
  const e = await readRecordAt(device, end - eExtent, tag);
  if (!('header' in e) || e.header.kind !== 'E') return null;
  const tPos = readU64(e.body, 0);
  if (tPos === null || tPos >= end) return null;
  const t = await readRecordAt(device, tPos, e.header.tag);
  if (!('header' in t) || t.header.kind !== 'T') return null;
  try {
    const index = decodeIndex(Buffer.from(t.body));
    if (index.meta.label.tag !== e.header.tag) return null;
    return { ...index, position: tPos, extent: t.extent, read: eExtent + t.extent };
  } catch {
    return null;
  }
}

/** The last checkpoint within `search` position units of the end, found backwards. */
async function findLastCheckpoint(device: Device, tag: string | undefined, search: number): Promise<{ position: number; extent: number; index: IndexBody; read: number } | null> {
  const end = device.end();
  let read = 0;
  const accept = async (pos: number) => {
    const r = await readRecordAt(device, pos, tag);
    if (!('header' in r) || r.header.kind !== 'K') return null;
    try {
      const index = decodeIndex(Buffer.from(r.body));
      if (index.meta.label.tag !== r.header.tag) return null;
      read += r.extent;
      return { position: pos, extent: r.extent, index, read };
    } catch {
      return null;
    }
  };
  if (device.addressing === 'block') {
    const stop = Math.max(1, end - Math.ceil(search / (256 << 10)));
    for (let hi = end; hi > stop; ) {
      const lo = Math.max(stop, hi - 32);
      const blocks = await device.read(lo, hi - lo);
      read += blocks.length;
      for (let i = blocks.length - 1; i >= 0; i--) {
        const b = blocks[i];
        if (b.length >= HEADER_LENGTH && b.readUInt32BE(0) === RECORD_MAGIC && b.toString('latin1', 4, 5) === 'K') {
          const found = await accept(lo + i);
          if (found) return found;
        }
      }
      hi = lo;
    }
    return null;
  }
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(RECORD_MAGIC);
  const stop = Math.max(0, end - search);
  // Windows grow from 256 KiB: the last checkpoint is usually close to the end.
  let step = 256 << 10;
  for (let hi = end; hi > stop; step = Math.min(step * 2, 8 << 20)) {
    const lo = Math.max(stop, hi - step);
    const [buf] = await device.read(lo, Math.min(end, hi + 3) - lo);
    read += buf.length;
    let i = buf.lastIndexOf(magic, hi - lo - 1);
    while (i >= 0) {
      if (buf.length - i >= 5 && buf.toString('latin1', i + 4, i + 5) === 'K') {
        const found = await accept(lo + i);
        if (found) return found;
      }
      i = i > 0 ? buf.lastIndexOf(magic, i - 1) : -1;
    }
    hi = lo;
  }
  return null;
}

/** Builds opens/closes/aborts/runs from verified records in write order. */
class Collector {
  readonly opens: VolumeScan['opens'] = [];
  readonly closes: VolumeScan['closes'] = [];
  readonly aborts: VolumeScan['aborts'] = [];
  readonly runs: RunEntry[] = [];
  private run: { incarnation: string; firstSeq: number; crcs: number[]; position: number; extent: number; bytes: number; last: boolean } | null = null;
  checkpoints = 0;
  lastCheckpoint: number | null = null;
  lastCheckpointEnd: number | null = null;
  trailer: IndexBody['meta'] | null = null;
  labelCopy: VolumeLabel | null = null;
  bad: Array<{ position: number; reason: string }> = [];

  add(h: RecordHeader, body: Buffer, position: number, extent: number): void {
    if (h.kind !== 'S') this.endRun();
    try {
      switch (h.kind) {
        case 'S': {
          const r = this.run;
          if (r && !(h.flags & FLAG_RUN_START) && r.incarnation === h.incarnation && r.firstSeq + r.crcs.length === h.seq && !r.last) {
            r.crcs.push(h.contentCrc);
            r.extent += extent;
            r.bytes += h.rawLength;
            r.last = (h.flags & FLAG_LAST) !== 0;
          } else {
            this.endRun();
            this.run = { incarnation: h.incarnation, firstSeq: h.seq, crcs: [h.contentCrc], position, extent, bytes: h.rawLength, last: (h.flags & FLAG_LAST) !== 0 };
          }
          return;
        }
        case 'O': {
          const record = parseJsonBody<OpenRecord>(body, 'open record', assertOpenRecord);
          if (record.incarnation !== h.incarnation) throw new TapeCorruptError('open record names another incarnation than its header');
          this.opens.push({ position, record, continuation: (h.flags & FLAG_CONTINUATION) !== 0 });
          return;
        }
        case 'C': {
          const record = parseJsonBody<CloseRecord>(body, 'close record', assertCloseRecord);
          if (record.incarnation !== h.incarnation) throw new TapeCorruptError('close record names another incarnation than its header');
          this.closes.push({ position, record });
          return;
        }
        case 'A': {
          const record = parseJsonBody<AbortRecord>(body, 'abort record', assertAbortRecord);
          if (record.incarnation !== h.incarnation) throw new TapeCorruptError('abort record names another incarnation than its header');
          this.aborts.push({ position, record });
          return;
        }
        case 'K': {
          this.checkpoints = Math.max(this.checkpoints, h.seq);
          this.lastCheckpoint = position;
          this.lastCheckpointEnd = position + extent;
          this.labelCopy ??= decodeIndex(Buffer.from(body)).meta.label;
          return;
        }
        case 'T':
          this.trailer = decodeIndex(Buffer.from(body)).meta;
          return;
        case 'L':
        case 'E':
          return;
      }
    } catch (e) {
      if (e instanceof TapeCorruptError) this.bad.push({ position, reason: e.message });
      else throw e;
    }
  }

  endRun(): void {
    const r = this.run;
    if (!r) return;
    this.runs.push({ incarnation: r.incarnation, firstSeq: r.firstSeq, count: r.crcs.length, last: r.last, position: r.position, extent: r.extent, bytes: r.bytes, crcs: r.crcs });
    this.run = null;
  }

  addIndex(index: IndexBody): void {
    this.opens.push(...index.meta.opens);
    this.closes.push(...index.meta.closes);
    this.aborts.push(...index.meta.aborts);
    this.runs.push(...index.runs);
  }
}

/** Scans one volume (mounting it on `device`); never throws for damaged contents, only reports. */
export async function scanVolume(device: Device, volser: string, opts: ScanOptions = {}): Promise<VolumeScan> {
  const info = await device.mount(volser);
  const end = info.end;
  const damage: Damage[] = [];
  let read = 0;
  let label: VolumeLabel | null = null;
  let labelFrom: VolumeScan['labelFrom'] = null;
  let labelExtent = 0;
  const l = await readRecordAt(device, 0);
  if ('header' in l && l.header.kind === 'L') {
    try {
      label = parseLabel(l.body);
      if (label.tag !== l.header.tag) throw new TapeCorruptError('label body and header disagree on the tag');
      labelFrom = 'label';
      labelExtent = l.extent;
      read += l.extent;
    } catch (e) {
      label = null;
      damage.push({ volser, position: 0, kind: 'corrupt', reason: `label: ${(e as Error).message}`, resumedAt: null });
    }
  } else if (end > 0) {
    damage.push({ volser, position: 0, kind: 'corrupt', reason: `label: ${'error' in l ? l.error : `a ${l.header.kind} record at position 0`}`, resumedAt: null });
  }
  const base = {
    volser,
    end,
    damage,
  };

  if (opts.mode !== 'full') {
    const t = await readTrailer(device, label?.tag);
    if (t && (!label || label.tag === t.meta.label.tag)) {
      read += t.read;
      const c = new Collector();
      c.addIndex(t);
      if (!label) fixLabelDamage(damage, labelExtentFor(device, t.meta.label));
      return {
        ...base,
        label: label ?? t.meta.label,
        labelFrom: labelFrom ?? 'trailer',
        tag: t.meta.label.tag,
        method: 'trailer',
        finished: true,
        finishedAt: t.meta.finishedAt ?? null,
        nextVolser: t.meta.nextVolser ?? null,
        opens: c.opens,
        closes: c.closes,
        aborts: c.aborts,
        runs: c.runs,
        validEnd: end,
        checkpoints: 0,
        lastCheckpoint: null,
        lastCheckpointEnd: null,
        read,
      };
    }
    const search = opts.checkpointSearch ?? (label?.checkpointEvery ? 2 * label.checkpointEvery + (16 << 20) : 256 << 20);
    const k = await findLastCheckpoint(device, label?.tag, search);
    if (k && (!label || label.tag === k.index.meta.label.tag)) {
      read += k.read;
      const chain: IndexBody[] = [k.index];
      let prev = k.index.meta.previous;
      let chainOk = true;
      while (prev !== null) {
        const r = await readRecordAt(device, prev, k.index.meta.label.tag);
        if (!('header' in r) || r.header.kind !== 'K') {
          chainOk = false;
          damage.push({ volser, position: prev, kind: 'corrupt', reason: `checkpoint chain broken: ${'error' in r ? r.error : r.header.kind}`, resumedAt: null });
          break;
        }
        read += r.extent;
        const index = decodeIndex(Buffer.from(r.body));
        chain.push(index);
        prev = index.meta.previous;
      }
      if (chainOk) {
        const c = new Collector();
        for (const index of chain.reverse()) c.addIndex(index);
        const lbl = label ?? k.index.meta.label;
        if (!label) fixLabelDamage(damage, labelExtentFor(device, lbl));
        const from = k.position + k.extent;
        const w = await walkRecords(device, from, end, { tag: lbl.tag, volser }, (r) => c.add(r.header, r.body, r.position, r.extent));
        c.endRun();
        damage.push(...w.damage, ...c.bad.map((b) => ({ volser, position: b.position, kind: 'corrupt' as const, reason: b.reason, resumedAt: null })));
        return {
          ...base,
          label: lbl,
          labelFrom: labelFrom ?? 'checkpoint',
          tag: lbl.tag,
          method: 'checkpoint',
          finished: c.trailer !== null,
          finishedAt: c.trailer?.finishedAt ?? null,
          nextVolser: c.trailer?.nextVolser ?? null,
          opens: c.opens,
          closes: c.closes,
          aborts: c.aborts,
          runs: c.runs,
          validEnd: w.validEnd,
          checkpoints: chain.length,
          lastCheckpoint: k.position,
          lastCheckpointEnd: from,
          read: read + w.read,
        };
      }
    }
  }

  // Full: every record verified. With the label lost, accept any authentic record and keep the majority tag.
  if (!label) {
    // the walk from 0 reports the damaged label itself, with where it resumed
    const i = damage.findIndex((d) => d.position === 0);
    if (i >= 0) damage.splice(i, 1);
  }
  const recs: Array<{ tag: string; header: RecordHeader; body: Buffer | null; position: number; extent: number }> = [];
  const w = await walkRecords(device, label ? labelExtent : 0, end, { tag: label?.tag, volser }, (r) => {
    // Superblock bodies are not kept (the scan needs their headers only).
    recs.push({ tag: r.header.tag, header: r.header, body: r.header.kind === 'S' ? null : Buffer.from(r.body), position: r.position, extent: r.extent });
  });
  read += w.read;
  damage.push(...w.damage);
  let tag = label?.tag ?? null;
  if (!tag && recs.length) {
    const votes = new Map<string, number>();
    for (const r of recs) votes.set(r.tag, (votes.get(r.tag) ?? 0) + 1);
    tag = [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
  }
  const c = new Collector();
  for (const r of recs) {
    if (r.tag !== tag) {
      damage.push({ volser, position: r.position, kind: 'foreign', reason: `record of another volume (tag ${r.tag}, volume ${tag})`, resumedAt: null });
      continue;
    }
    c.add(r.header, r.body ?? Buffer.alloc(0), r.position, r.extent);
  }
  c.endRun();
  damage.push(...c.bad.map((b) => ({ volser, position: b.position, kind: 'corrupt' as const, reason: b.reason, resumedAt: null })));
  const copy = c.trailer?.label ?? c.labelCopy;
  const lbl = label ?? (copy && copy.tag === tag ? copy : null);
  damage.sort((a, b) => a.position - b.position);
  return {
    ...base,
    label: lbl,
    labelFrom: labelFrom ?? (lbl ? (c.trailer ? 'trailer' : 'checkpoint') : null),
    tag,
    method: 'full',
    finished: c.trailer !== null,
    finishedAt: c.trailer?.finishedAt ?? null,
    nextVolser: c.trailer?.nextVolser ?? null,
    opens: c.opens,
    closes: c.closes,
    aborts: c.aborts,
    runs: c.runs,
    validEnd: w.validEnd,
    checkpoints: c.checkpoints,
    lastCheckpoint: c.lastCheckpoint,
    lastCheckpointEnd: c.lastCheckpointEnd,
    read,
  };
}

function labelExtentFor(device: Device, label: VolumeLabel): number {
  return recordExtent(device.addressing, Buffer.byteLength(JSON.stringify(label)));
}

/** The label damage entry resumes right after the label (whose length the copy tells). */
function fixLabelDamage(damage: Damage[], resumedAt: number): void {
  const i = damage.findIndex((d) => d.position === 0 && d.reason.startsWith('label'));
  if (i >= 0) damage[i] = { ...damage[i], resumedAt };
}
