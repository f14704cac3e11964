/**
 * One reader of a stream's volumes at a time, shared by every restore waiting for that stream:
 * the restores that arrive within a short window (default 200 ms) are planned together and served
 * by one pass over the volumes (libs/tape RestorePass: runs sorted by volume and position, short
 * gaps read through, a run wanted twice read once); a restore that arrives while a pass is under
 * way joins it when every run it needs still lies ahead of the head, otherwise it waits for the
 * next pass, which starts as soon as the current one ends. Each restore receives its own client
 * file, in order, verified superblock by superblock and at the end against its close record
 * (superblocks, bytes, SHA-256), as if it had the device alone.
 *
 * The consumers of one pass must read concurrently: the pass moves at the pace of the slowest
 * consumer (each restore buffers at most `highWaterBytes` ahead of its reader).
 */
import { createHash } from 'node:crypto';
import { RestorePass, SuperblockCodec, TapeCorruptError, type Device, type RestoreRun } from '@deltaflow/tape';
import type { ClientFilePlacements } from './client-file-reader';
import { SovClientError } from './errors';

export interface StreamReadCoordinatorOptions {
  /** the device to read a stream's volumes with (one pass at a time uses it) */
  readonly deviceFor: (stream: string) => Device;
  /** called when a pass is over with the device it used (to unmount it) */
  readonly releaseDevice?: (stream: string, device: Device) => Promise<void>;
  /** the operator key of encrypted client files */
  readonly operatorKey?: Buffer;
  /** how long the first restore waits for others to share its pass (default 200 ms) */
  readonly windowMs?: number;
  /** bytes a restore may hold ahead of its reader before the pass waits for it (default 16 MiB) */
  readonly highWaterBytes?: number;
}

/** What a finished pass did (for tests and logs). */
export interface PassReport {
  readonly stream: string;
  readonly restores: number;
  readonly joined: number;
  readonly repositions: number;
  readonly failures: number;
}

/** A restore's bytes on their way from the pass to its reader. */
class Channel {
  private readonly items: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;
  private drained: (() => void) | null = null;
  closed = false;

  constructor(private readonly highWater: number) {}

  async push(b: Buffer): Promise<void> {
    if (this.closed) return;
    this.items.push(b);
    this.bytes += b.length;
    this.wake?.();
    if (this.bytes > this.highWater) await new Promise<void>((r) => (this.drained = r));
  }

  end(error?: Error): void {
    this.ended = true;
    this.error = error ?? null;
    this.wake?.();
  }

  /** The reader went away: drop what comes. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.bytes = 0;
    this.drained?.();
  }

  async *drain(): AsyncGenerator<Buffer> {
    for (;;) {
      const b = this.items.shift();
      if (b) {
        this.bytes -= b.length;
        if (this.bytes <= this.highWater / 2 && this.drained) {
          const d = this.drained;
          this.drained = null;
          d();
        }
        yield b;
        continue;
      }
      if (this.ended) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

/** A restore waiting for, or taking part in, a pass. */
interface Entry {
  readonly restore: string;
  /** joins the pass (false: it cannot, wait for the next; throws on an inconsistent request) */
  join(pass: RestorePass): boolean;
  /** the pass is over for it (an error: it failed) */
  finish(error?: Error): void;
}

interface StreamState {
  pass: RestorePass | null;
  /** the members of the running pass */
  members: Entry[];
  pending: Entry[];
  timer: NodeJS.Timeout | null;
  device: Device | null;
}

export class StreamReadCoordinator {
  private readonly streams = new Map<string, StreamState>();
  private seq = 0;
  /** the last finished passes, newest last */
  readonly passes: PassReport[] = [];

  constructor(private readonly o: StreamReadCoordinatorOptions) {}

  /** The client file's bytes, in order, read in a pass shared with the other restores of its stream. */
  read(p: ClientFilePlacements): AsyncGenerator<Buffer> {
    if (p.runs.length === 0) throw new SovClientError('NOT_FOUND', `client file ${p.clientFile} (${p.incarnation}) has no placed runs`);
    const close = p.close;
    if (!close) throw new SovClientError('ILLEGAL_STATE', `client file ${p.clientFile} (${p.incarnation}) is not closed`);
    // a wrong or missing operator key is refused here, before the restore waits for a pass
    const codec = SuperblockCodec.open(p.open, this.o.operatorKey);
    const runs: RestoreRun[] = p.runs.map((r) => ({ volser: r.volser, position: r.position, extent: r.length, incarnation: p.incarnation, firstSeq: r.firstSeq, count: r.superblocks, crcs: r.crcs }));
    const restore = `${p.clientFile}#${++this.seq}`;
    const channel = new Channel(this.o.highWaterBytes ?? 16 << 20);
    const hash = createHash('sha256');
    let bytes = 0;
    let superblocks = 0;
    const member = {
      request: { restore, incarnation: p.incarnation, runs },
      codec,
      sink: async (b: Buffer) => {
        hash.update(b);
        bytes += b.length;
        superblocks++;
        await channel.push(Buffer.from(b));
      },
    };
    this.enqueue(p.stream, {
      restore,
      join: (pass) => pass.join(member),
      finish: (error) => {
        if (error) return channel.end(error);
        const sha = hash.digest('hex');
        if (superblocks !== close.superblocks || bytes !== close.bytes || sha !== close.sha256)
          return channel.end(
            new TapeCorruptError(`${p.clientFile} (${p.incarnation}): read ${superblocks} superblocks, ${bytes} bytes, SHA-256 ${sha}; the close record says ${close.superblocks}, ${close.bytes}, ${close.sha256}`),
          );
        channel.end();
      },
    });
    return (async function* () {
      try {
        yield* channel.drain();
      } finally {
        channel.close();
      }
    })();
  }

  private state(stream: string): StreamState {
    let s = this.streams.get(stream);
    if (!s) this.streams.set(stream, (s = { pass: null, members: [], pending: [], timer: null, device: null }));
    return s;
  }

  private enqueue(stream: string, entry: Entry): void {
    const s = this.state(stream);
    if (s.pass?.running) {
      try {
        if (entry.join(s.pass)) {
          s.members.push(entry);
          return;
        }
      } catch (e) {
        return entry.finish(e as Error);
      }
    }
    s.pending.push(entry);
    if (!s.pass && !s.timer) s.timer = setTimeout(() => void this.startPass(stream), this.o.windowMs ?? 200);
  }

  private async startPass(stream: string): Promise<void> {
    const s = this.state(stream);
    s.timer = null;
    const entries = s.pending.splice(0);
    if (!entries.length) return;
    let pass: RestorePass;
    try {
      s.device ??= this.o.deviceFor(stream);
      pass = new RestorePass(s.device);
    } catch (e) {
      for (const x of entries) x.finish(e as Error);
      return;
    }
    s.pass = pass;
    s.members = [];
    for (const x of entries) {
      try {
        if (x.join(pass)) s.members.push(x);
        else s.pending.push(x);
      } catch (e) {
        x.finish(e as Error);
      }
    }
    try {
      const r = await pass.run();
      for (const x of s.members) x.finish(r.failures.get(x.restore));
      this.passes.push({ stream, restores: r.restores, joined: r.joined, repositions: r.repositions, failures: r.failures.size });
      if (this.passes.length > 100) this.passes.shift();
    } catch (e) {
      // the device failed (not one client file's data): every member of the pass fails with it
      for (const x of s.members) x.finish(e as Error);
    } finally {
      s.pass = null;
      s.members = [];
      if (s.pending.length) void this.startPass(stream);
      else if (this.o.releaseDevice && s.device) {
        const d = s.device;
        s.device = null;
        await this.o.releaseDevice(stream, d).catch(() => undefined);
      }
    }
  }
}
