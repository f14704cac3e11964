import { SuperblockCodec } from './codec';
import { Device } from './device';
import { TapeCorruptError, TapeStateError, TapeValidationError } from './errors';
import { PlannedRead, planRestores, RestoreRequest, RestoreRun } from './planner';
import { checkSuperblock, RestoreSink, Volumes } from './reader';
import { walkRecords } from './records';

/*
 * One shared pass over a stream's volumes serving several restores (the restore planner's plan,
 * executed run by run): each restore receives its own client file, superblock by superblock, in
 * sequence order, as if it had the device alone. A restore may join while the pass is under way
 * when every run it needs still lies ahead of the head (on the volume being read, or on a volume
 * later in the order); the rest of the pass is then planned again with it. One that cannot join
 * waits for the next pass (the caller's business: see service-kit's StreamReadCoordinator).
 */

export interface PassMember {
  readonly request: RestoreRequest;
  readonly codec: SuperblockCodec;
  readonly sink: RestoreSink;
}

export interface PassOptions {
  /** gaps below this are read through (default the device's readThroughGap) */
  readonly readThroughGap?: number;
  /** order of volumes (stream-file sequence); others follow by volser */
  readonly volumeOrder?: readonly string[];
}

export interface PassStats {
  /** restores served */
  readonly restores: number;
  /** restores that joined after the pass had started */
  readonly joined: number;
  /** LOCATEs the pass chose (reads not continuing from the head) */
  readonly repositions: number;
  readonly superblocksDelivered: number;
}

interface Member extends PassMember {
  /** next sequence number to deliver */
  next: number;
  readonly last: number;
  readonly held: Map<number, Buffer>;
  failed?: Error;
}

export class RestorePass {
  private readonly members = new Map<string, Member>();
  private readonly order: Map<string, number>;
  private started = false;
  private finished = false;
  private changed = true;
  private joinedLate = 0;
  private head: { volser: string; position: number } | null = null;

  constructor(
    private readonly device: Device,
    private readonly opts: PassOptions = {},
  ) {
    this.order = new Map((opts.volumeOrder ?? []).map((v, i) => [v, i]));
  }

  get running(): boolean {
    return this.started && !this.finished;
  }

  private volIndex(v: string): number {
    return this.order.get(v) ?? 1e9;
  }

  /** true when `run` lies at or after the head, in the pass's volume order */
  private ahead(run: RestoreRun): boolean {
    const h = this.head;
    if (!h) return true;
    if (run.volser === h.volser) return run.position >= h.position;
    const a = this.volIndex(run.volser);
    const b = this.volIndex(h.volser);
    return a !== b ? a > b : run.volser > h.volser;
  }

  /**
   * Adds a restore. Before the pass starts it always joins; while it runs, only when every run it
   * needs lies ahead of the head. Returns false (nothing changed) when it cannot join.
   */
  join(m: PassMember): boolean {
    if (this.finished) return false;
    if (this.members.has(m.request.restore)) throw new TapeValidationError(`restore ${m.request.restore} already in this pass`, 'restore');
    // validates the request on its own (coverage, one incarnation) before it touches the pass
    const alone = planRestores([m.request], { readThroughGap: 0 });
    if (this.started && !m.request.runs.every((r) => this.ahead(r))) return false;
    this.members.set(m.request.restore, { ...m, next: 0, last: alone.lastSeq[m.request.restore], held: new Map() });
    if (this.started) this.joinedLate++;
    this.changed = true;
    return true;
  }

  /** The reads still to do for the members' undelivered runs. */
  private replan(): PlannedRead[] {
    const requests: RestoreRequest[] = [];
    const startAt: Record<string, number> = {};
    for (const m of this.members.values()) {
      if (m.failed || m.next > m.last) continue;
      const runs = m.request.runs
        .map((r) => ({ r, from: r.from ?? r.firstSeq, to: r.to ?? r.firstSeq + r.count - 1 }))
        .filter((x) => x.to >= m.next)
        .map((x) => ({ ...x.r, from: Math.max(x.from, m.next), to: x.to }));
      requests.push({ restore: m.request.restore, incarnation: m.request.incarnation, runs });
      startAt[m.request.restore] = m.next;
    }
    if (!requests.length) return [];
    return planRestores(requests, { readThroughGap: this.opts.readThroughGap ?? this.device.readThroughGap, volumeOrder: this.opts.volumeOrder, startAt }).reads;
  }

  private async deliver(m: Member, seq: number, data: Buffer): Promise<void> {
    if (m.failed || seq < m.next) return;
    if (seq > m.next) {
      m.held.set(seq, data);
      return;
    }
    await m.sink(data, seq);
    m.next = seq + 1;
    while (m.held.has(m.next)) {
      const d = m.held.get(m.next) as Buffer;
      m.held.delete(m.next);
      await m.sink(d, m.next);
      m.next++;
    }
  }

  /**
   * Runs the pass until every member has its client file. A damaged run fails the restores that
   * need it (their error names volume and position) and the pass goes on for the others; the
   * returned map holds each failed restore's error.
   */
  async run(): Promise<PassStats & { failures: Map<string, Error> }> {
    if (this.started) throw new TapeStateError('this restore pass has already run');
    this.started = true;
    const vols = new Volumes(this.device);
    let reads: PlannedRead[] = [];
    let delivered = 0;
    let repositions = 0;
    try {
      for (;;) {
        if (this.changed) {
          reads = this.replan();
          this.changed = false;
        }
        const read = reads[0];
        if (!read) break;
        const run = read.runs[0];
        const tag = await vols.mount(read.volser);
        const start = vols.startFor(read.volser, run.position, this.opts.readThroughGap ?? this.device.readThroughGap);
        if (start === run.position && !(this.head?.volser === read.volser && this.head.position === run.position)) repositions++;
        // a restore joining while this run is read must find what it needs after it
        this.head = { volser: read.volser, position: run.position + run.extent };
        let k = 0;
        const where = (offset: number) => ({ volser: read.volser, offset });
        try {
          const w = await walkRecords(this.device, start, run.position + run.extent, { tag, volser: read.volser }, async (rec) => {
            if (rec.position < run.position) return;
            checkSuperblock(rec.header, run, k, undefined, where(rec.position));
            const seq = run.firstSeq + k++;
            const targets = run.deliveries.filter((d) => seq >= d.from && seq <= d.to);
            if (!targets.length) return;
            const data = await this.members.get(targets[0].restore)!.codec.decode(rec.header, Buffer.from(rec.body), where(rec.position));
            for (const t of targets) await this.deliver(this.members.get(t.restore)!, seq, data);
            delivered += targets.length;
          });
          const bad = w.damage.find((d) => (d.resumedAt ?? Infinity) > run.position);
          if (bad) throw new TapeCorruptError(`${bad.kind === 'truncated' ? 'truncated volume' : 'corrupt superblock'}: ${bad.reason}`, where(bad.position));
          if (k !== run.count) throw new TapeCorruptError(`run at ${run.position}: ${k} of ${run.count} superblocks found`, where(run.position));
        } catch (e) {
          if (!(e instanceof TapeCorruptError) && (e as { code?: string }).code !== 'AUTH_FAILED') throw e;
          for (const d of run.deliveries) {
            const m = this.members.get(d.restore)!;
            m.failed ??= e as Error;
          }
          this.changed = true;
        }
        vols.moved(read.volser, run.position + run.extent);
        read.runs.shift();
        if (!read.runs.length) reads.shift();
      }
    } finally {
      this.finished = true;
    }
    const failures = new Map<string, Error>();
    for (const m of this.members.values()) {
      if (m.failed) failures.set(m.request.restore, m.failed);
      else if (m.next !== m.last + 1) failures.set(m.request.restore, new TapeCorruptError(`restore ${m.request.restore}: superblock ${m.next} never arrived`));
    }
    return { restores: this.members.size, joined: this.joinedLate, repositions, superblocksDelivered: delivered, failures };
  }
}
