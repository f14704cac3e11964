import { createHash } from 'node:crypto';
import { Keyring, SuperblockCodec } from './codec';
import { Device } from './device';
import { TapeCorruptError, TapeValidationError } from './errors';
import { CloseRecord, FLAG_LAST, OpenRecord, RecordHeader } from './format';
import { PlannedRun, ReadPlan, RestoreRun } from './planner';
import { walkRecords } from './records';
import { readLabel } from './scan';

/*
 * Reading back: a client file by its placements (seek straight to its runs), and the executor of
 * a restore plan that serves several restores in one pass. Every superblock is verified: header
 * CRC, declared position, volume tag, incarnation, sequence number, body CRC, catalog CRC when
 * known, then authentication/decompression and plaintext CRC in its codec.
 */

/**
 * Remembers each volume's tag once mounted (label, or its copy in the trailer or a checkpoint), and
 * where the head stands after the last read, so a wanted extent a short way ahead is read through
 * from there rather than located (a LOCATE costs seconds on tape, however short the hop).
 */
export class Volumes {
  private readonly tags = new Map<string, string>();
  private headAt: { volser: string; position: number } | null = null;
  constructor(private readonly device: Device) {}
  async mount(volser: string): Promise<string> {
    let tag = this.tags.get(volser);
    if (!tag || this.device.mounted !== volser) {
      const l = await readLabel(this.device, volser);
      tag = l.label.tag;
      this.tags.set(volser, tag);
      this.headAt = l.labelEnd !== undefined ? { volser, position: l.labelEnd } : null;
    }
    return tag;
  }
  /** Where to start reading to reach `position`: the head, when it stands at most `readThroughGap` before it. */
  startFor(volser: string, position: number, readThroughGap = this.device.readThroughGap): number {
    const h = this.headAt;
    return h && h.volser === volser && h.position <= position && position - h.position <= readThroughGap ? h.position : position;
  }
  moved(volser: string, position: number): void {
    this.headAt = { volser, position };
  }
}

export function checkSuperblock(h: RecordHeader, run: Pick<PlannedRun, 'incarnation' | 'firstSeq' | 'count' | 'crcs'>, k: number, isLastOfFile: boolean | undefined, where: { volser: string; offset: number }): void {
  if (h.kind !== 'S') throw new TapeCorruptError(`expected superblock ${run.firstSeq + k} of ${run.incarnation}, found a ${h.kind} record`, where);
  if (h.incarnation !== run.incarnation) throw new TapeCorruptError(`superblock of ${h.incarnation} where ${run.incarnation} was placed`, where);
  if (h.seq !== run.firstSeq + k) throw new TapeCorruptError(`superblock ${h.seq} where ${run.firstSeq + k} was placed`, where);
  if (run.crcs && run.crcs[k] >>> 0 !== h.contentCrc) throw new TapeCorruptError(`superblock ${h.seq} differs from its catalog CRC`, where);
  if (isLastOfFile !== undefined && ((h.flags & FLAG_LAST) !== 0) !== isLastOfFile)
    throw new TapeCorruptError(`superblock ${h.seq} ${isLastOfFile ? 'should be' : 'is'} flagged last`, where);
}

/** Reads one run's records (verified) in order; bounded by the run's size. */
async function readRun(
  device: Device,
  volser: string,
  tag: string,
  run: RestoreRun,
  from: number,
  visit: (h: RecordHeader, body: Buffer, k: number, where: { volser: string; offset: number }) => Promise<void>,
): Promise<void> {
  let k = 0;
  let expected = run.position;
  const w = await walkRecords(device, from, run.position + run.extent, { tag, volser }, async (r) => {
    if (r.position < run.position) return; // read through on the way to the run
    // a record of the run skipped by the walk (it failed its CRC): named where it is, not by what follows it
    if (r.position !== expected) throw new TapeCorruptError(`corrupt superblock ${run.firstSeq + k} of ${run.incarnation}: unreadable record (reading resumed at ${r.position})`, { volser, offset: expected });
    expected = r.position + r.extent;
    const where = { volser, offset: r.position };
    if (k >= run.count) throw new TapeCorruptError(`more records than the ${run.count} superblocks placed`, where);
    await visit(r.header, r.body, k++, where);
  });
  const damage = w.damage.filter((d) => (d.resumedAt ?? Infinity) > run.position);
  if (damage.length) {
    const d = damage[0];
    throw new TapeCorruptError(`${d.kind === 'truncated' ? 'truncated volume' : 'corrupt superblock'}: ${d.reason}`, { volser, offset: d.position });
  }
  if (k !== run.count) throw new TapeCorruptError(`run of ${run.incarnation} at ${run.position}: ${k} of ${run.count} superblocks found`, { volser, offset: run.position });
}

export interface ReadClientFileOptions {
  /** operator key(s) for encrypted client files */
  readonly keyring?: Keyring;
  /** the close record: bytes, superblock count and SHA-256 are checked at the end */
  readonly close?: CloseRecord;
}

/**
 * Reads a client file back from its run placements (any order, from the catalog or a scan):
 * checks that the runs cover superblocks 0..n-1 with exactly one last at the end, seeks straight
 * to each run, verifies and decodes every superblock and yields the plaintext in order.
 */
export async function* readClientFile(device: Device, open: OpenRecord, runs: readonly (RestoreRun & { readonly last?: boolean })[], opts: ReadClientFileOptions = {}): AsyncGenerator<Buffer> {
  if (runs.length === 0) throw new TapeValidationError('no runs given', 'runs');
  const codec = SuperblockCodec.open(open, opts.keyring);
  const sorted = [...runs].sort((a, b) => (a.from ?? a.firstSeq) - (b.from ?? b.firstSeq));
  let need = 0;
  for (const r of sorted) {
    if (r.incarnation !== open.incarnation) throw new TapeValidationError(`a run of ${r.incarnation} given for ${open.incarnation}`, 'runs');
    if ((r.from ?? r.firstSeq) !== need) throw new TapeCorruptError(`${open.clientFile}: superblock ${need} missing from the placements`);
    need = (r.to ?? r.firstSeq + r.count - 1) + 1;
  }
  const finalSeq = need - 1;
  const vols = new Volumes(device);
  const hash = createHash('sha256');
  let bytes = 0;
  for (const r of sorted) {
    const tag = await vols.mount(r.volser);
    const from = r.from ?? r.firstSeq;
    const to = r.to ?? r.firstSeq + r.count - 1;
    const out: Buffer[] = [];
    const start = vols.startFor(r.volser, r.position);
    await readRun(device, r.volser, tag, r, start, async (h, body, k, where) => {
      const seq = r.firstSeq + k;
      checkSuperblock(h, r, k, seq === finalSeq ? true : seq < finalSeq ? false : undefined, where);
      if (seq < from || seq > to) return;
      out.push(await codec.decode(h, Buffer.from(body), where));
    });
    vols.moved(r.volser, r.position + r.extent);
    for (const b of out) {
      hash.update(b);
      bytes += b.length;
      yield b;
    }
  }
  if (opts.close) {
    const sha = hash.digest('hex');
    if (opts.close.superblocks !== finalSeq + 1 || opts.close.bytes !== bytes || opts.close.sha256 !== sha)
      throw new TapeCorruptError(`${open.clientFile}: read ${finalSeq + 1} superblocks, ${bytes} bytes, SHA-256 ${sha}; the close record says ${opts.close.superblocks}, ${opts.close.bytes}, ${opts.close.sha256}`);
  }
}

/** Receives a restore's plaintext, superblock by superblock, in sequence order. */
export type RestoreSink = (data: Buffer, seq: number) => void | Promise<void>;

export interface ExecuteStats {
  readonly reads: number;
  readonly superblocksDelivered: number;
  readonly superblocksSkipped: number;
  readonly bytesDelivered: number;
}

/**
 * Executes a read plan on `device`: each planned read is one sequential pass over its extent;
 * wanted superblocks are verified, decoded once and delivered to every restore that asked for
 * them, in sequence order per restore (a run placed out of order, e.g. rewritten after a device
 * failure, is held back until its turn); the rest is read through and discarded.
 */
export async function executePlan(
  device: Device,
  plan: ReadPlan,
  codecs: ReadonlyMap<string, SuperblockCodec>,
  sinks: ReadonlyMap<string, RestoreSink>,
): Promise<ExecuteStats> {
  for (const r of Object.keys(plan.lastSeq)) if (!sinks.has(r)) throw new TapeValidationError(`no sink for restore ${r}`, 'sinks');
  const next = new Map<string, number>(Object.keys(plan.lastSeq).map((r) => [r, 0]));
  const held = new Map<string, Map<number, Buffer>>();
  const vols = new Volumes(device);
  let delivered = 0;
  let skipped = 0;
  let bytes = 0;
  const deliver = async (restore: string, seq: number, data: Buffer) => {
    const want = next.get(restore) as number;
    if (seq < want) return;
    if (seq > want) {
      let h = held.get(restore);
      if (!h) held.set(restore, (h = new Map()));
      h.set(seq, data);
      return;
    }
    const sink = sinks.get(restore) as RestoreSink;
    await sink(data, seq);
    delivered++;
    bytes += data.length;
    let n = seq + 1;
    const h = held.get(restore);
    while (h?.has(n)) {
      const d = h.get(n) as Buffer;
      h.delete(n);
      await sink(d, n);
      delivered++;
      bytes += d.length;
      n++;
    }
    next.set(restore, n);
  };
  for (const read of plan.reads) {
    const tag = await vols.mount(read.volser);
    let ri = 0;
    let k = 0;
    const start = vols.startFor(read.volser, read.position, plan.readThroughGap);
    const w = await walkRecords(device, start, read.position + read.extent, { tag, volser: read.volser }, async (rec) => {
      while (ri < read.runs.length && rec.position >= read.runs[ri].position + read.runs[ri].extent) {
        if (k !== read.runs[ri].count) throw new TapeCorruptError(`run at ${read.runs[ri].position}: ${k} of ${read.runs[ri].count} superblocks found`, { volser: read.volser, offset: read.runs[ri].position });
        ri++;
        k = 0;
      }
      const run = read.runs[ri];
      if (!run || rec.position < run.position) {
        skipped++;
        return;
      }
      const where = { volser: read.volser, offset: rec.position };
      checkSuperblock(rec.header, run, k, undefined, where);
      const seq = run.firstSeq + k++;
      const targets = run.deliveries.filter((d) => seq >= d.from && seq <= d.to);
      if (!targets.length) return;
      const codec = codecs.get(run.incarnation);
      if (!codec) throw new TapeValidationError(`no codec for client file ${run.incarnation}`, 'codecs');
      const data = await codec.decode(rec.header, Buffer.from(rec.body), where);
      for (const t of targets) await deliver(t.restore, seq, data);
    });
    vols.moved(read.volser, read.position + read.extent);
    const bad = w.damage.find((d) => read.runs.some((r) => d.position < r.position + r.extent && (d.resumedAt ?? Infinity) > r.position));
    if (bad) throw new TapeCorruptError(`${bad.kind === 'truncated' ? 'truncated volume' : 'corrupt superblock'}: ${bad.reason}`, { volser: read.volser, offset: bad.position });
    const lastRun = read.runs[read.runs.length - 1];
    if (ri !== read.runs.length - 1 || k !== lastRun.count)
      throw new TapeCorruptError(`read at ${read.position}: run at ${read.runs[ri]?.position ?? lastRun.position} incomplete`, { volser: read.volser, offset: read.position });
  }
  for (const [r, last] of Object.entries(plan.lastSeq))
    if ((next.get(r) as number) !== last + 1) throw new TapeCorruptError(`restore ${r}: superblock ${next.get(r)} never arrived`);
  return { reads: plan.reads.length, superblocksDelivered: delivered, superblocksSkipped: skipped, bytesDelivered: bytes };
}
