/**
 * Watches one kafkajs consumer through its instrumentation events and says whether it consumes
 * (readiness) and how far behind it is (lag):
 *
 * - ready once it joined its group and while it fetches (a fetch, heartbeat or batch at least every
 *   `staleAfterMs`; inside a handler counts as busy, not stale); not ready before the first join,
 *   while it restarts after a crash, and once stopped;
 * - `dead()` only when kafkajs crashed it for good (a non-retriable error: it will not restart),
 *   which a liveness probe should act on; a broker that is down is not that: kafkajs retries;
 * - every `lagIntervalMs` the committed offsets of the group are compared with the high
 *   watermarks of the partitions assigned to this member: deltaflow_kafka_consumer_lag{group,
 *   topic, partition} (a partition never committed counts from the log start).
 *
 * The KafkaEventServer runs one for its consumer; a process with a consumer of its own (the
 * reference nucleus) can too.
 */
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { registerGauges, serviceMetrics } from './metrics';

export interface ConsumerMonitorOptions {
  readonly kafka: Kafka;
  readonly consumer: Consumer;
  readonly groupId: string;
  /** default 5000; 0 = no lag refresh (tests call refreshLag) */
  readonly lagIntervalMs?: number;
  /** without any fetch or heartbeat this long, the consumer is not ready (default 30 s) */
  readonly staleAfterMs?: number;
  readonly log?: (msg: string) => void;
  readonly now?: () => number;
}

type State = { kind: 'starting' } | { kind: 'consuming' } | { kind: 'restarting'; error: string } | { kind: 'crashed'; error: string } | { kind: 'stopped' };

export class ConsumerMonitor {
  private state: State = { kind: 'starting' };
  private lastActivity = 0;
  private inBatch = 0;
  private assignment = new Map<string, number[]>();
  private readonly reported = new Map<string, { topic: string; partition: number }>();
  private readonly removers: Array<() => void> = [];
  private readonly unregister: () => void;
  private timer?: NodeJS.Timeout;
  private admin?: Admin;
  private refreshing?: Promise<void>;
  private lagError?: string;
  private readonly now: () => number;
  private readonly staleAfterMs: number;

  constructor(private readonly o: ConsumerMonitorOptions) {
    this.now = o.now ?? Date.now;
    this.staleAfterMs = o.staleAfterMs ?? 30_000;
    const c = o.consumer;
    const e = c.events;
    const active = () => (this.lastActivity = this.now());
    this.removers.push(
      c.on(e.GROUP_JOIN, (ev) => {
        this.state = { kind: 'consuming' };
        this.inBatch = 0;
        this.assignment = new Map(Object.entries(ev.payload.memberAssignment ?? {}).map(([t, ps]) => [t, [...ps]]));
        active();
        this.dropUnassigned();
      }),
      c.on(e.FETCH_START, active),
      c.on(e.FETCH, active),
      c.on(e.HEARTBEAT, active),
      c.on(e.COMMIT_OFFSETS, active),
      c.on(e.START_BATCH_PROCESS, () => {
        this.inBatch++;
        active();
      }),
      c.on(e.END_BATCH_PROCESS, () => {
        this.inBatch = Math.max(0, this.inBatch - 1);
        active();
      }),
      c.on(e.CRASH, (ev) => {
        const error = `${ev.payload.error?.name ?? 'Error'}: ${ev.payload.error?.message ?? ev.payload.error}`;
        this.inBatch = 0;
        this.state = ev.payload.restart ? { kind: 'restarting', error } : { kind: 'crashed', error };
      }),
      c.on(e.STOP, () => {
        if (this.state.kind !== 'crashed') this.state = { kind: 'stopped' };
        this.inBatch = 0;
      }),
    );
    this.unregister = registerGauges({
      deltaflow_kafka_consumer_ready: {
        help: '1 while the consumer of the group is in its group and fetching (or in a handler), else 0',
        labelNames: ['group'],
        read: () => [[{ group: o.groupId }, this.unready() === undefined ? 1 : 0]],
      },
    });
    const every = o.lagIntervalMs ?? 5_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.refreshLag(), every);
      this.timer.unref();
    }
  }

  /** Why the consumer does not consume now, or undefined when it does. */
  unready(): string | undefined {
    const s = this.state;
    switch (s.kind) {
      case 'starting':
        return 'kafka consumer: not in its group yet';
      case 'restarting':
        return `kafka consumer: restarting after a crash (${s.error})`;
      case 'crashed':
        return `kafka consumer: crashed and will not restart (${s.error})`;
      case 'stopped':
        return 'kafka consumer: stopped';
      case 'consuming': {
        if (this.inBatch > 0) return undefined;
        const idle = this.now() - this.lastActivity;
        return idle > this.staleAfterMs ? `kafka consumer: no fetch or heartbeat for ${Math.round(idle / 1000)} s (broker unreachable?)` : undefined;
      }
    }
  }

  /** Why the consumer is gone for good (kafkajs will not restart it), or undefined. */
  dead(): string | undefined {
    return this.state.kind === 'crashed' ? `kafka consumer: crashed and will not restart (${this.state.error})` : undefined;
  }

  /** The partitions assigned to this member, by topic (from the last group join). */
  assigned(): ReadonlyMap<string, readonly number[]> {
    return this.assignment;
  }

  /** Sets the lag gauge of every assigned partition from the committed offsets and high watermarks. */
  refreshLag(): Promise<void> {
    return (this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined)));
  }

  private async doRefresh(): Promise<void> {
    if (this.state.kind !== 'consuming' || this.assignment.size === 0) return;
    const { lag } = serviceMetrics();
    const group = this.o.groupId;
    try {
      if (!this.admin) {
        const admin = this.o.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      const topics = [...this.assignment.keys()];
      const committed = new Map<string, number>();
      for (const t of await this.admin.fetchOffsets({ groupId: group, topics })) {
        for (const p of t.partitions) committed.set(`${t.topic}\0${p.partition}`, Number(p.offset));
      }
      for (const topic of topics) {
        const assigned = new Set(this.assignment.get(topic));
        for (const w of await this.admin.fetchTopicOffsets(topic)) {
          if (!assigned.has(w.partition)) continue;
          const key = `${topic}\0${w.partition}`;
          const at = committed.get(key);
          const from = at !== undefined && at >= 0 ? at : Number(w.low);
          lag.set({ group, topic, partition: String(w.partition) }, Math.max(0, Number(w.high) - from));
          this.reported.set(key, { topic, partition: w.partition });
        }
      }
      if (this.lagError) this.o.log?.(`consumer lag of ${group}: measured again`);
      this.lagError = undefined;
    } catch (err) {
      const msg = (err as Error).message;
      // once per kind of failure, not every few seconds
      if (msg !== this.lagError) this.o.log?.(`consumer lag of ${group} not measured: ${msg}`);
      this.lagError = msg;
    }
  }

  private dropUnassigned(): void {
    const { lag } = serviceMetrics();
    for (const [key, { topic, partition }] of this.reported) {
      if (this.assignment.get(topic)?.includes(partition)) continue;
      lag.remove({ group: this.o.groupId, topic, partition: String(partition) });
      this.reported.delete(key);
    }
  }

  /** Stops watching: no more refreshes; this group's series leave the registry. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.removers.splice(0)) r();
    if (this.state.kind !== 'crashed') this.state = { kind: 'stopped' };
    await this.refreshing?.catch(() => undefined);
    this.assignment = new Map();
    this.dropUnassigned();
    this.unregister();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
