/**
 * change-logger: consumes dsf.block-changes (batched) and dsf.events, keeps the DLOG of each
 * protected database as event-sourced state on dsf.dlog, and produces the PLOG on dsf.plog.
 *
 * INTERFACE for the save writer and the DSIM builder (all messages in @deltaflow/contracts):
 * - dsf.plog: PlogImage {dbid, area, rabn, lsn, image} for every accepted BlockChanged and
 *   PlogSync {dbid, lsn, syncId} for every EtSync, in upstream LSN order per dbid (key dbid).
 *   Published (acks=-1) BEFORE the DLOG record of the same batch; after a crash between the
 *   two, a redelivered batch may repeat PlogImages with the SAME lsn: consumers keep the
 *   image with the highest LSN per block and ignore an LSN they already have.
 * - dsf.dlog (key dbid), the DLOG's own log, folded back at start:
 *     DlogRecorded {lsn, ranges, marks}   blocks new to the DLOG / utility marks, up to lsn
 *     DlogSyncRecorded {lsn, syncId}      an ET sync point (or the nucleus stopping) the DLOG was cut at
 *     DlogCaptureAwaited {captureId, syncLsn}  a capture waiting for the stream to reach syncLsn
 *     DlogCaptured {captureId, correlationId, syncLsn, ranges, marks}
 *         emitted when the change logger sees SaveStarted on dsf.events (captureId =
 *         correlationId = SaveStarted.correlationId). syncLsn = SaveStarted.startLsn, or for
 *         an offline save (no startLsn) the last LSN the change logger has seen. `ranges` is
 *         EVERY block the delta save must read, sorted by (area, RABN): the captured DLOG
 *         blocks + the blocks of the captured utility marks + the admin blocks. `marks` are
 *         the captured utility marks for information. A save writer waits for this event
 *         (matching correlationId) on dsf.dlog. If the change stream has not yet reached
 *         startLsn, the capture waits for it (recorded as DlogCaptureAwaited, so it survives
 *         a restart) and is emitted once it has. An offline save's startLsn is the LSN of
 *         NucleusState{active: false}, which the change logger records as a sync point.
 *         No event if another save of the same database still holds a capture.
 *     DlogDropped {captureId}             on SaveCompleted: the captured set is gone
 *     DlogReturned {captureId, reason}    on SaveFailed: the captured set is back in the DLOG
 * - dsf.block-changes.dlq: DeadLetter with errorCode UNKNOWN_DBID | RABN_OUT_OF_RANGE |
 *   IMAGE_LENGTH | LSN_NOT_INCREASING | VALIDATION (contract or utility-mark errors).
 * - Known dbids come from configuration (CHANGE_LOGGER_DATABASES, database directories).
 *
 * Scaling: one instance owns all partitions (the DLOG of a dbid needs its block changes
 * and its save events in one process); a second instance would only be a standby.
 */
import { Controller, Inject, Module } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { decodeFrom, encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { contractCodec, runService, type DecodedRecord, type BatchOutcome } from '@deltaflow/service-kit';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { ChangeLog, type DlogMessage, type Upstream } from './change-log';
import type { ProtectedDatabase } from './databases';

export interface ChangeLoggerConfig {
  readonly brokers: string[];
  readonly databases: readonly ProtectedDatabase[];
  readonly groupId?: string;
  readonly clientId?: string;
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
  /** DLOG extension capacity (ranges per file before compression) */
  readonly extensionCapacity?: number;
}

export interface RunningChangeLogger {
  readonly changeLog: ChangeLog;
  /** counters since start */
  readonly stats: { accepted: number; rejected: number; duplicates: number; batches: number };
  stop(): Promise<void>;
}

const SERVICE = Symbol('ChangeLoggerService');
/** payload per produce request: below Kafka's default message.max.bytes (1 MiB) */
const MAX_REQUEST_BYTES = 900 * 1024;

type SaveEvent = Extract<TopicMessage<'dsf.events'>, { type: 'SaveStarted' | 'SaveCompleted' | 'SaveFailed' }>;

/** The handlers' work: publish what the ChangeLog prepared, PLOG first, then commit. */
class ChangeLoggerService {
  readonly stats = { accepted: 0, rejected: 0, duplicates: 0, batches: 0 };
  // block changes and save events touch the same state: one at a time
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly changeLog: ChangeLog,
    private readonly producer: Producer,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Publishes with acks=-1 in chunks of at most MAX_REQUEST_BYTES (Kafka refuses record
   * batches above message.max.bytes, 1 MiB by default). Chunks go out concurrently on the
   * one producer connection, which the broker handles in order; PLOG readers order by LSN
   * anyway (a retried batch may repeat images).
   */
  private async send(messages: AnyMessage[]): Promise<void> {
    if (messages.length === 0) return;
    type Rec = { key: string | null; value: Buffer; headers: Record<string, string> };
    const chunks: Array<{ topic: string; messages: Rec[]; bytes: number }> = [];
    const open = new Map<string, { topic: string; messages: Rec[]; bytes: number }>();
    for (const m of messages) {
      const r = encodeMessage(m);
      let c = open.get(r.topic);
      if (c === undefined || (c.messages.length > 0 && c.bytes + r.value.length > MAX_REQUEST_BYTES)) {
        c = { topic: r.topic, messages: [], bytes: 0 };
        open.set(r.topic, c);
        chunks.push(c);
      }
      c.messages.push({ key: r.key, value: r.value, headers: { ...r.headers } });
      c.bytes += r.value.length + 64;
    }
    await Promise.all(chunks.map((c) => this.producer.send({ topic: c.topic, acks: -1, messages: c.messages })));
  }

  onBlockChanges(records: DecodedRecord<Upstream>[]): Promise<BatchOutcome> {
    return this.serial(async () => {
      const p = this.changeLog.prepare(records.map((r) => r.message));
      await this.send(p.plog);
      await this.send(p.dlog);
      p.commit();
      this.stats.batches++;
      this.stats.accepted += records.length - p.rejected.length - p.duplicates;
      this.stats.rejected += p.rejected.length;
      this.stats.duplicates += p.duplicates;
      return {
        rejected: p.rejected.map((r) => ({ offset: records[r.index].ctx.offset, error: { code: r.code, message: r.message, field: r.field } })),
      };
    });
  }

  /** Captures that were waiting before a restart and whose sync the rebuilt DLOG has reached. */
  resumeAwaiting(): Promise<void> {
    return this.serial(async () => {
      const out = this.changeLog.resumeAwaiting();
      await this.send(out.dlog);
      out.commit();
    });
  }

  onSaveEvent(event: SaveEvent): Promise<void> {
    return this.serial(async () => {
      const out = this.changeLog.onSaveEvent(event);
      await this.send(out.dlog);
      out.commit();
    });
  }
}

@Controller()
class ChangeLoggerController {
  constructor(@Inject(SERVICE) private readonly svc: ChangeLoggerService) {}

  @EventPattern(Topic.blockChanges, { batch: true })
  onBlockChanges(records: DecodedRecord<Upstream>[]): Promise<BatchOutcome> {
    return this.svc.onBlockChanges(records);
  }

  @EventPattern(Topic.dsfEvents)
  async onEvent(message: TopicMessage<'dsf.events'>): Promise<void> {
    if (message.type === 'SaveStarted' || message.type === 'SaveCompleted' || message.type === 'SaveFailed') {
      await this.svc.onSaveEvent(message);
    }
  }
}

/** Reads dsf.dlog from offset 0 up to its end at start time, folding every record into `cl`. */
async function rebuild(kafka: Kafka, groupId: string, cl: ChangeLog, log: (m: string) => void): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    if (!(await admin.listTopics()).includes(Topic.dlog)) await admin.createTopics({ topics: [{ topic: Topic.dlog }], waitForLeaders: true }).catch(() => false);
    const offsets = await admin.fetchTopicOffsets(Topic.dlog);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const todo = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (todo.size === 0) return 0;
  let count = 0;
  const consumer = kafka.consumer({ groupId: `${groupId}.rebuild.${process.pid}.${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [Topic.dlog], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            for (const m of batch.messages) {
              const high = ends.get(batch.partition) ?? 0n;
              if (BigInt(m.offset) >= high) break;
              let msg: DlogMessage;
              try {
                msg = decodeFrom(Topic.dlog, m.value);
              } catch (e) {
                log(`rebuild: skipped an undecodable dsf.dlog record at ${batch.partition}@${m.offset}: ${(e as Error).message}`);
                msg = undefined as never;
              }
              if (msg) {
                cl.replay(msg);
                count++;
              }
              resolveOffset(m.offset);
              if (BigInt(m.offset) + 1n >= high) todo.delete(batch.partition);
            }
            await heartbeat();
            if (todo.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return count;
}

/** Rebuilds the DLOG from dsf.dlog, then starts consuming dsf.block-changes and dsf.events. */
export async function startChangeLogger(config: ChangeLoggerConfig): Promise<RunningChangeLogger> {
  const log = config.log ?? (() => undefined);
  const now = config.now ?? Date.now;
  const groupId = config.groupId ?? 'deltaflow.change-logger';
  const clientId = config.clientId ?? 'change-logger';
  const changeLog = new ChangeLog(config.databases, now, { extensionCapacity: config.extensionCapacity });
  const kafka = new Kafka({ clientId, brokers: config.brokers, logLevel: logLevel.WARN, retry: { retries: 10 } });
  const replayed = await rebuild(kafka, groupId, changeLog, log);
  changeLog.finishReplay();
  log(`DLOG rebuilt from ${replayed} dsf.dlog records`);

  const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const svc = new ChangeLoggerService(changeLog, producer);
  await svc.resumeAwaiting();

  @Module({ controllers: [ChangeLoggerController], providers: [{ provide: SERVICE, useValue: svc }] })
  class ChangeLoggerModule {}

  const running = await runService({
    name: 'change-logger',
    module: ChangeLoggerModule,
    kafka: {
      brokers: config.brokers,
      clientId,
      groupId,
      fromBeginning: true,
      // large fetches = large batches: fewer durable PLOG/DLOG round trips per change (16 MiB: several
      // upstream record batches per handler call; 4 MiB held one 2 MiB batch at a time)
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      ...contractCodec(groupId, now),
    },
  });

  let stopping: Promise<void> | undefined;
  return {
    changeLog,
    stats: svc.stats,
    stop: () =>
      (stopping ??= (async () => {
        await running.stop();
        await producer.disconnect().catch(() => undefined);
      })()),
  };
}
