/**
 * sov.superblocks into the multiplexer: a superblock of a client file served here, next in
 * sequence, is taken into its queue (within the memory bound; beyond it the spool pauses); one
 * within the reorder window ahead waits for the gap; a redelivery is settled once the original is
 * placed. A superblock of a client file not known yet is parked until sov.commands was read to its
 * end (its open may still be on its way), then refused.
 */
import { readEnvelope, Topic, type MessageOfType } from '@deltaflow/contracts';
import { admitSuperblock, SovRejectedError } from '@deltaflow/tape';
import type { StreamMultiplexerService } from './multiplexer.service';
import { Deferred, type ClientFileRuntime, type PendingSuperblock } from './runtime/client-file';
import { TAKEN, type Admission, type SpoolContext } from './spool/spool-server';

type Superblock = MessageOfType<'Superblock'>;

interface Parked {
  readonly sb: Superblock;
  readonly ctx: SpoolContext;
  readonly done: Deferred;
  readonly at: number;
}

export class SuperblockAdmission {
  private readonly parked = new Map<string, Parked[]>();
  /** next sov.commands offset handled, per partition (parked superblocks wait until it reaches the end) */
  private readonly commandsNext = new Map<number, bigint>();
  /** sov.superblocks partition of each stream (the balancer's lag), and the mean superblock size */
  readonly streamPartition = new Map<string, number>();
  meanSuperblock = 256 * 1024;

  constructor(private readonly mux: StreamMultiplexerService) {}

  onSuperblock(sb: Superblock, ctx: SpoolContext): Admission {
    this.streamPartition.set(sb.stream, ctx.partition);
    this.meanSuperblock = this.meanSuperblock * 0.99 + sb.payload.length * 0.01;
    const f = this.mux.files.get(sb.incarnation);
    if (!f) {
      // closed, aborted or expired (a redelivery is settled; anything new is refused) …
      if (this.mux.state.files.has(sb.incarnation)) {
        admitSuperblock(this.mux.state, sb, null);
        return TAKEN;
      }
      // … or its open is still on its way on sov.commands
      return this.park(sb, ctx);
    }
    return this.take(f, sb, ctx, false);
  }

  /** Takes a superblock of a client file it knows (`force`: even beyond the memory limit, for superblocks already held). */
  private take(f: ClientFileRuntime, sb: Superblock, ctx: SpoolContext, force: boolean): Admission {
    let verdict: 'accept' | 'ahead' | 'duplicate';
    try {
      verdict = admitSuperblock(this.mux.state, sb, f.next, this.mux.config.reorderWindow);
    } catch (e) {
      if (e instanceof SovRejectedError && e.code === 'OUT_OF_SEQUENCE') void this.mux.abort(f, `superblock ${sb.seq} out of sequence (expected ${f.next})`);
      throw e;
    }
    if (f.abortRequest) return TAKEN; // the file is being given up: its superblocks are consumed, not placed
    if (verdict === 'duplicate' || (verdict === 'ahead' && f.ahead.has(sb.seq))) return { taken: true, done: f.placedPromise(sb.seq) };
    const n = sb.payload.length;
    const memory = this.mux.memory;
    if (!force && memory.wouldExceed(n)) return { taken: false, retry: memory.freed() };
    memory.take(n);
    // a copy: the decoded payload is a view into kafkajs' whole fetch response, which a superblock
    // waiting for its run would otherwise keep alive (and the memory bound would not see)
    const payload = Buffer.from(sb.payload);
    const p: PendingSuperblock = { seq: sb.seq, last: sb.last, payload, crc: sb.crc, partition: ctx.partition, offset: BigInt(ctx.offset), takenAt: performance.now() };
    if (verdict === 'ahead') {
      f.ahead.set(sb.seq, p);
      f.aheadSince ??= this.mux.now();
      return { taken: true, done: f.placedPromise(sb.seq) };
    }
    queueUp(f, p);
    // the gap filled: what waited behind it follows
    for (let next = f.ahead.get(f.next); next; next = f.ahead.get(f.next)) {
      f.ahead.delete(next.seq);
      queueUp(f, next);
    }
    f.aheadSince = f.ahead.size ? this.mux.now() : null;
    if (!f.device) this.mux.assignDevice(f);
    f.device?.wake();
    return { taken: true, done: f.placedPromise(sb.seq) };
  }

  /** A superblock that did not decode (a CRC mismatch): its client file, if open here, can never be whole. */
  onUndecodable(value: Buffer | null, reason: string): void {
    try {
      const env = readEnvelope(value);
      const inc = (env.fields as { incarnation?: unknown }).incarnation;
      const f = typeof inc === 'string' ? this.mux.files.get(inc) : undefined;
      if (f) void this.mux.abort(f, `superblock ${(env.fields as { seq?: unknown }).seq} refused: ${reason}`.slice(0, 2000));
    } catch {
      /* not even an envelope: nobody's client file */
    }
  }

  private park(sb: Superblock, ctx: SpoolContext): Admission {
    const d = new Deferred();
    let list = this.parked.get(sb.incarnation);
    if (!list) this.parked.set(sb.incarnation, (list = []));
    list.push({ sb, ctx, done: d, at: this.mux.now() });
    this.mux.memory.take(sb.payload.length);
    return { taken: true, done: d.promise };
  }

  /** Superblocks that waited for their client file's open: admitted now. */
  unpark(f: ClientFileRuntime): void {
    const list = this.parked.get(f.incarnation);
    if (!list) return;
    this.parked.delete(f.incarnation);
    for (const p of list.sort((a, b) => a.sb.seq - b.sb.seq)) {
      this.mux.memory.free(p.sb.payload.length);
      try {
        const a = this.take(f, p.sb, p.ctx, true);
        if (a.taken && a.done) a.done.then(p.done.resolve, p.done.reject);
        else p.done.resolve();
      } catch (e) {
        p.done.reject(e);
      }
    }
  }

  /** Forgets what waits for a stream no longer served here (its partition is read again by the new server). */
  dropStream(stream: string): void {
    for (const [inc, list] of this.parked) {
      if (list[0]?.sb.stream !== stream) continue;
      this.parked.delete(inc);
      for (const p of list) this.mux.memory.free(p.sb.payload.length);
    }
    this.streamPartition.delete(stream);
  }

  parkedCount(): number {
    return [...this.parked.values()].reduce((n, l) => n + l.length, 0);
  }

  /** A sov.commands record was handled (or refused). */
  noteCommand(ctx: SpoolContext): void {
    const next = BigInt(ctx.offset) + 1n;
    if ((this.commandsNext.get(ctx.partition) ?? 0n) < next) this.commandsNext.set(ctx.partition, next);
  }

  /** Where the commands consumer stands on partitions just gained (its committed offset, or the log start). */
  async noteCommandsFrom(partitions: ReadonlySet<number>, groupId: string): Promise<void> {
    const admin = this.mux.kafkaAdmin();
    const committed = await admin.fetchOffsets({ groupId, topics: [Topic.sovCommands] }).catch(() => []);
    const lows = await admin.fetchTopicOffsets(Topic.sovCommands).catch(() => []);
    for (const p of lows) {
      if (!partitions.has(p.partition) || this.commandsNext.has(p.partition)) continue;
      const c = committed.find((t) => t.topic === Topic.sovCommands)?.partitions.find((x) => x.partition === p.partition);
      this.commandsNext.set(p.partition, c && Number(c.offset) >= 0 ? BigInt(c.offset) : BigInt(p.low));
    }
  }

  /** Parked superblocks whose open never came: refused once sov.commands (the partitions served here) was read to its end. */
  async checkParked(served: ReadonlySet<number>): Promise<void> {
    if (this.parked.size === 0) return;
    const asked = this.mux.now();
    let highs;
    try {
      highs = await this.mux.kafkaAdmin().fetchTopicOffsets(Topic.sovCommands);
    } catch {
      return;
    }
    const caughtUp = highs.filter((p) => served.has(p.partition)).every((p) => (this.commandsNext.get(p.partition) ?? 0n) >= BigInt(p.high));
    if (!caughtUp) return;
    for (const [inc, list] of this.parked) {
      const stale = list.filter((p) => p.at <= asked);
      if (!stale.length || this.mux.files.has(inc)) continue;
      const rest = list.filter((p) => p.at > asked);
      if (rest.length) this.parked.set(inc, rest);
      else this.parked.delete(inc);
      for (const p of stale) {
        this.mux.memory.free(p.sb.payload.length);
        const known = this.mux.state.streams.has(p.sb.stream);
        p.done.reject(
          known
            ? new SovRejectedError('UNKNOWN_CLIENT_FILE', `no open client file ${p.sb.stream}/${p.sb.clientFile} with incarnation ${inc} (sov.commands read to its end)`, 'incarnation')
            : new SovRejectedError('UNKNOWN_STREAM', `stream ${p.sb.stream} is not defined`, 'stream'),
        );
      }
    }
  }
}

function queueUp(f: ClientFileRuntime, p: PendingSuperblock): void {
  f.queue.push(p);
  f.next++;
  if (p.last) f.lastSeq = p.seq;
}
