/**
 * The change logger's work, as a Nest provider: the ChangeLog of @deltaflow/dlog (all the
 * decisions) plus publishing. Whenever the partitions it owns change (at start too; before the
 * Kafka transport hands it a record of them) it rebuilds the DLOG of those databases from the
 * same partitions of dsf.dlog and emits the captures a crash or a move left waiting. Per upstream
 * batch it publishes the PLOG first, then the DLOG events, both with acks=-1, and only then
 * makes the new state current: a failed publish is retried whole by the redelivery.
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { randomUUID } from 'node:crypto';
import { ChangeLog, DlogSnapshotAssembler, splitDlogSnapshot, type DlogEvent, type PlogEntry, type ProtectedDatabase, type UpstreamRecord } from '@deltaflow/dlog';
import { Assignments, createKafka, readToEnd, type BatchOutcome, type DecodedRecord } from '@deltaflow/service-kit';
import { Partitioners, type Producer } from 'kafkajs';

export interface ChangeLoggerConfig {
  readonly brokers: readonly string[];
  readonly databases: readonly ProtectedDatabase[];
  readonly groupId?: string;
  readonly clientId?: string;
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
  /** how often the dsf.block-changes and dsf.dlog retention runs (default 30 s; 0: never) */
  readonly retentionIntervalMs?: number;
  /** dsf.dlog records appended between two rounds of DLOG snapshots (default 10000) */
  readonly dlogSnapshotEvery?: number;
  /** DLOG extension capacity (extents per file before compression) */
  readonly extensionCapacity?: number;
}

export const CHANGE_LOGGER_CONFIG = Symbol('CHANGE_LOGGER_CONFIG');

/** payload per produce request: below Kafka's default message.max.bytes (1 MiB) */
const MAX_REQUEST_BYTES = 900 * 1024;

export type SaveEventMessage = Extract<TopicMessage<'dsf.events'>, { type: 'SaveStarted' | 'SaveCompleted' | 'SaveFailed' | 'RestoreCompleted' }>;

@Injectable()
export class ChangeLoggerService implements OnModuleInit, OnApplicationShutdown {
  readonly changeLog: ChangeLog;
  readonly stats = { accepted: 0, rejected: 0, duplicates: 0, batches: 0 };
  private producer?: Producer;
  private readonly now: () => number;
  private readonly log: (msg: string) => void;
  // block changes and save events touch the same state: one at a time
  private chain: Promise<unknown> = Promise.resolve();
  private readonly partitionOf = new Map<number, number>();

  constructor(
    @Inject(CHANGE_LOGGER_CONFIG) private readonly config: ChangeLoggerConfig,
    private readonly assignments: Assignments,
  ) {
    this.changeLog = new ChangeLog(config.databases, { extensionCapacity: config.extensionCapacity });
    this.now = config.now ?? Date.now;
    this.log = config.log ?? (() => undefined);
  }

  async onModuleInit(): Promise<void> {
    const clientId = this.config.clientId ?? 'change-logger';
    this.producer = createKafka({ clientId, brokers: this.config.brokers }).producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    // the DLOG of the databases this instance owns is rebuilt whenever they change (at start too)
    this.assignments.listen((c) => this.serial(() => this.rebuild(c.indices)));
  }

  /**
   * Folds dsf.dlog of the owned partitions into a fresh state (the databases there are exactly
   * the ones whose block changes and save events this instance receives), then emits the
   * captures a crash or a move left waiting.
   */
  private async rebuild(indices: ReadonlySet<number>): Promise<void> {
    this.changeLog.reset();
    if (indices.size > 0) {
      // a snapshot in parts counts once all of them are read; one cut short (a crash mid-publish) is ignored
      const snapshots = new DlogSnapshotAssembler();
      const replayed = await readToEnd<TopicMessage<'dsf.dlog'>>({
        brokers: this.config.brokers,
        clientId: this.config.clientId ?? 'change-logger',
        topics: [Topic.dlog],
        partitions: indices,
        onMessage: ({ occurredAt: _at, ...event }, at) => {
          this.partitionOf.set(event.dbid, at.partition);
          if (event.type === 'DlogSnapshotted') {
            const state = snapshots.add(event);
            if (state !== null) this.changeLog.restore(state);
          } else {
            snapshots.interrupt(event.dbid);
            this.changeLog.replay(event);
          }
        },
        log: this.log,
      });
      this.log(`DLOG of partitions ${[...indices].sort((a, b) => a - b).join(',')} rebuilt from ${replayed} dsf.dlog records`);
      for (const i of snapshots.incomplete()) this.log(`DLOG snapshot ${i.snapshotId} of database ${i.dbid} ignored: ${i.have} of its ${i.parts} parts on dsf.dlog`);
    }
    this.changeLog.finishReplay();
    const out = this.changeLog.resumeAwaiting();
    await this.publishDlog(out.dlog);
    out.commit();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }

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
  private async send(messages: readonly AnyMessage[]): Promise<void> {
    if (messages.length === 0) return;
    type Chunk = { topic: string; messages: Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>; bytes: number };
    const chunks: Chunk[] = [];
    const open = new Map<string, Chunk>();
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
    await Promise.all(chunks.map((c) => this.producer!.send({ topic: c.topic, acks: -1, messages: c.messages })));
  }

  /** The DLOG events as dsf.dlog messages: the same shapes, stamped with the time they were recorded. */
  private publishDlog(events: readonly DlogEvent[]): Promise<void> {
    const occurredAt = this.now();
    return this.send(events.map((e): AnyMessage => ({ ...e, occurredAt }) as AnyMessage));
  }

  private publishPlog(entries: readonly PlogEntry[]): Promise<void> {
    return this.send(entries as readonly AnyMessage[]);
  }

  /**
   * Every accepted NucleusState of the batch, republished on dsf.nucleus-state before the batch's
   * offset is committed: what the block-changes retention deletes below that offset, the nucleus
   * state it carried is kept there (readers fold the highest LSN; a redelivery repeats a record).
   */
  private publishNucleusStates(records: readonly DecodedRecord<UpstreamRecord>[], rejected: ReadonlyArray<{ index: number }>): Promise<void> {
    const bad = new Set(rejected.map((r) => r.index));
    const states: AnyMessage[] = [];
    records.forEach((r, i) => {
      const m = r.message;
      if (m.type === 'NucleusState' && !bad.has(i)) states.push({ type: 'NucleusStateRecorded', dbid: m.dbid, lsn: m.lsn, active: m.active, at: m.at });
    });
    return this.send(states);
  }

  /**
   * Publishes the DLOG snapshot of every protected database known to be on `partition` (with no
   * batch or save event being applied: each is the state after every DLOG event published before
   * it), each in parts of at most DLOG_SNAPSHOT_PART_BYTES (any size fits below message.max.bytes),
   * the requests one after the other with acks=-1, and returns the offset of the first part once
   * every part is acknowledged (a failure part-way throws: the round is not complete, nothing is
   * cut below it, and readers ignore its parts), or null when no database of the partition is known.
   */
  snapshot(partition: number): Promise<number | null> {
    return this.serial(async () => {
      const occurredAt = this.now();
      const messages = this.config.databases
        .filter((d) => this.partitionOf.get(d.dbid) === partition)
        .flatMap((d) => {
          const st = this.changeLog.state(d.dbid)!;
          return splitDlogSnapshot(st, `${d.dbid}-${occurredAt}-${randomUUID()}`).map((part) =>
            encodeMessage({ type: 'DlogSnapshotted', dbid: d.dbid, ...(st.lastLsn !== null ? { lastLsn: st.lastLsn } : {}), ...part, occurredAt }),
          );
        });
      if (messages.length === 0) return null;
      let first: number | null = null;
      let request: typeof messages = [];
      let bytes = 0;
      const flush = async () => {
        if (request.length === 0) return;
        const res = await this.producer!.send({ topic: Topic.dlog, acks: -1, messages: request.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })) });
        if (res.some((r) => r.partition !== partition)) throw new Error(`DLOG snapshots of partition ${partition} were written to partitions ${res.map((r) => r.partition).join(',')}`);
        first ??= Number(res[0].baseOffset);
        request = [];
        bytes = 0;
      };
      for (const m of messages) {
        if (request.length > 0 && bytes + m.value.length > MAX_REQUEST_BYTES) await flush();
        request.push(m);
        bytes += m.value.length + 64;
      }
      await flush();
      return first;
    });
  }

  /** The partition index of every database seen on dsf.block-changes (for the retention). */
  partitionOfDatabase(dbid: number): number | undefined {
    return this.partitionOf.get(dbid);
  }

  /** Runs fn with no batch or save event being applied (the DLOG state is consistent). */
  whileIdle<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.serial(async () => fn());
  }

  onBlockChanges(records: DecodedRecord<UpstreamRecord>[]): Promise<BatchOutcome> {
    return this.serial(async () => {
      const p = this.changeLog.prepare(records.map((r) => r.message));
      for (const r of records) if ('dbid' in r.message) this.partitionOf.set(r.message.dbid, r.ctx.partition);
      await this.publishPlog(p.plog);
      await this.publishDlog(p.dlog);
      await this.publishNucleusStates(records, p.rejected);
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

  onSaveEvent(event: SaveEventMessage): Promise<void> {
    return this.serial(async () => {
      const out = this.changeLog.onSaveOutcome(event);
      if (out.refused) this.log(`${event.type} ${event.correlationId} of database ${event.dbid}: the DLOG cannot follow it: ${out.refused.message}`);
      await this.publishDlog(out.dlog);
      out.commit();
    });
  }
}
