/**
 * The console's read-only view of the log: a kafkajs consumer in a group of its own
 * (`deltaflow.console.tail.<uuid>`, deleted at stop) that commits nothing. It starts the last
 * `tail` records of each partition of dsf.events, sov.events and every dead-letter topic (so the
 * page shows the recent rejections and dead letters at once), dsf.dlog at its end, and keeps:
 *   - the recent rejections (CommandRejected, CommandFailed, SaveFailed, UpstreamRejected,
 *     RestoreInterrupted, ...Rejected / ...Failed of sov.events), newest first;
 *   - the recent dead letters with their reasons, newest first;
 *   - the next offset read per partition of dsf.events and sov.events;
 * and tells its listeners "changed" (at most once per `noticeMs`) when a record arrives on
 * dsf.events, sov.events or dsf.dlog. Idempotent: a record is kept once by (topic, partition,
 * offset), however often kafkajs delivers it (a rebalance, a restart of the fetch).
 */
import { randomUUID } from 'node:crypto';
import { ALL_TOPICS, decodeFrom, dlqTopic, Topic, type DlqTopicName, type TopicName } from '@deltaflow/contracts';
import { createKafka } from '@deltaflow/service-kit';
import type { Admin, Consumer } from 'kafkajs';
import type { DeadLetterRow, RejectionRow } from '../ui/rows';

export interface EventTailOptions {
  readonly brokers: readonly string[];
  /** records read back per partition at start (default 200) */
  readonly tail?: number;
  /** records kept of each list (default 200) */
  readonly keep?: number;
  /** "changed" at most this often (default 500 ms) */
  readonly noticeMs?: number;
  readonly log?: (m: string) => void;
}

export interface ChangeNotice {
  topics: string[];
  positions: Record<string, string>;
}

const WATCHED: readonly TopicName[] = [Topic.dsfEvents, Topic.sovEvents];
const isRejection = (type: string) => /(Rejected|Failed|Interrupted)$/.test(type) && type !== 'DeadLetter';

export class EventTail {
  private consumer?: Consumer;
  private admin?: Admin;
  private groupId = '';
  private readonly rejections: RejectionRow[] = [];
  private readonly deadLetters: DeadLetterRow[] = [];
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private readonly positions = new Map<string, bigint>();
  private readonly startAt = new Map<string, bigint>();
  private readonly listeners = new Set<(n: ChangeNotice) => void>();
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;
  private lastNotice = 0;
  private error?: string;
  private running = false;
  private stopped = false;

  constructor(private readonly o: EventTailOptions) {}

  async start(): Promise<void> {
    const kafka = createKafka({ clientId: 'console', brokers: this.o.brokers, quiet: true });
    this.admin = kafka.admin();
    await this.admin.connect();
    const existing = new Set(await this.admin.listTopics());
    const dlqs = ALL_TOPICS.map((t) => dlqTopic(t)).filter((t) => existing.has(t));
    const tailed = [...WATCHED.filter((t) => existing.has(t)), ...dlqs];
    const topics = [...tailed, ...(existing.has(Topic.dlog) ? [Topic.dlog] : [])];
    const n = BigInt(this.o.tail ?? 200);
    const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const t of topics) {
      for (const p of await this.admin.fetchTopicOffsets(t)) {
        const low = BigInt(p.low);
        const high = BigInt(p.high);
        const start = t === Topic.dlog ? high : high - n > low ? high - n : low;
        this.startAt.set(`${t}:${p.partition}`, start);
        if (WATCHED.includes(t as TopicName)) this.positions.set(`${t}:${p.partition}`, start);
        seeks.push({ topic: t, partition: p.partition, offset: start.toString() });
      }
    }
    this.groupId = `deltaflow.console.tail.${randomUUID()}`;
    this.consumer = kafka.consumer({ groupId: this.groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 250 });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.error = `the Kafka tail stopped: ${(e.payload as { error?: Error }).error?.message ?? 'crash'}`;
      this.o.log?.(this.error);
    });
    await this.consumer.connect();
    if (topics.length === 0) {
      this.running = true;
      return;
    }
    await this.consumer.subscribe({ topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false, // read-only: this group's offsets are never committed
      eachMessage: async ({ topic, partition, message }) => {
        const key = `${topic}:${partition}`;
        const offset = BigInt(message.offset);
        if (offset < (this.startAt.get(key) ?? 0n)) return; // before the seek applied
        this.take(topic, partition, message.offset, message.value);
      },
    });
    for (const s of seeks) this.consumer.seek(s);
    this.running = true;
  }

  /** One record: kept once (by topic, partition, offset), then a "changed" notice. */
  take(topic: string, partition: number, offset: string, value: Buffer | null): void {
    const id = `${topic}:${partition}:${offset}`;
    if (this.seen.has(id)) return;
    this.remember(id);
    const keep = this.o.keep ?? 200;
    if (WATCHED.includes(topic as TopicName)) {
      const key = `${topic}:${partition}`;
      const next = BigInt(offset) + 1n;
      if (next > (this.positions.get(key) ?? 0n)) this.positions.set(key, next);
      try {
        const m = decodeFrom(topic as TopicName, value) as unknown as Record<string, unknown> & { type: string };
        if (isRejection(m.type)) insertNewest(this.rejections, rejectionRow(topic, partition, offset, m), keep);
      } catch {
        // not ours to judge: the topic's own consumers dead-letter it (and the page shows that)
      }
    } else if (topic.endsWith('.dlq')) {
      try {
        const d = decodeFrom(topic as DlqTopicName, value) as unknown as Record<string, unknown>;
        insertNewest(
          this.deadLetters,
          {
            dlqTopic: topic,
            dlqPartition: partition,
            dlqOffset: offset,
            sourceTopic: String(d.sourceTopic),
            partition: Number(d.partition),
            offset: String(d.offset),
            consumerGroup: String(d.consumerGroup),
            errorCode: String(d.errorCode),
            reason: String(d.reason),
            ...(typeof d.field === 'string' ? { field: d.field } : {}),
            occurredAt: Number(d.occurredAt),
          },
          keep,
        );
      } catch (e) {
        insertNewest(
          this.deadLetters,
          { dlqTopic: topic, dlqPartition: partition, dlqOffset: offset, sourceTopic: topic.slice(0, -4), partition: -1, offset: '?', consumerGroup: '?', errorCode: 'UNDECODABLE', reason: `the dead letter itself does not decode: ${(e as Error).message}`, occurredAt: 0 },
          keep,
        );
      }
    }
    this.notice(topic);
  }

  private remember(id: string): void {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > 50_000) this.seen.delete(this.seenOrder.shift()!);
  }

  private notice(topic: string): void {
    this.pending.add(topic);
    if (this.timer) return;
    const wait = Math.max(0, this.lastNotice + (this.o.noticeMs ?? 500) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastNotice = Date.now();
      const n: ChangeNotice = { topics: [...this.pending].sort(), positions: this.positionsNow() };
      this.pending = new Set();
      for (const l of this.listeners) l(n);
    }, wait);
  }

  onChange(listener: (n: ChangeNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  positionsNow(): Record<string, string> {
    return Object.fromEntries([...this.positions].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([k, v]) => [k, v.toString()]));
  }

  recentRejections(): RejectionRow[] {
    return [...this.rejections];
  }

  recentDeadLetters(): DeadLetterRow[] {
    return [...this.deadLetters];
  }

  status(): { ready: boolean; error?: string } {
    return { ready: this.running && !this.error, ...(this.error ? { error: this.error } : {}) };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.listeners.clear();
    await this.consumer?.disconnect().catch(() => undefined);
    if (this.groupId) await this.admin?.deleteGroups([this.groupId]).catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

function rejectionRow(topic: string, partition: number, offset: string, m: Record<string, unknown> & { type: string }): RejectionRow {
  const s = (k: string) => (typeof m[k] === 'string' ? (m[k] as string) : undefined);
  const row: RejectionRow = { topic, partition, offset, type: m.type, reason: s('reason') ?? s('code') ?? m.type, occurredAt: Number(m.occurredAt ?? 0) };
  if (typeof m.dbid === 'number') row.dbid = m.dbid;
  for (const k of ['correlationId', 'commandType', 'code', 'rule', 'input'] as const) if (s(k) !== undefined) row[k] = s(k);
  return row;
}

/** Newest first (by time, then position), at most `keep`. */
function insertNewest<T extends { occurredAt: number }>(list: T[], row: T, keep: number): void {
  let i = 0;
  while (i < list.length && list[i].occurredAt >= row.occurredAt) i++;
  list.splice(i, 0, row);
  if (list.length > keep) list.length = keep;
}
