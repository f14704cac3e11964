/**
 * Truncates dsf.block-changes below what is secured (issue 13, docs/ARCHITECTURE.md "Retention"):
 * the change logger is the topic's consumer of record (a record's images are in the PLOG, its
 * ranges in the DLOG and a NucleusState on dsf.nucleus-state before its group's offset moves past
 * it), so it decides, for the partitions it owns, when the topic may let records go. The decision
 * is @deltaflow/dlog `blockChangesRetention` over what the broker says: the log start and end,
 * the change logger group's committed offsets, and the committed offsets of every other live
 * group reading the topic (members assigned the partition: the save writer's and the merge
 * engine's tails, `dsf upstream check`); saves in progress come from the DLOG (a capture pending
 * or awaited). The cut is Kafka's DeleteRecords, so the same code works on any Kafka. A reader
 * that holds the cut back is waited for, logged once per reason, and counted in
 * deltaflow_block_changes_retention_waiting.
 */
import { AssignerProtocol, type Admin } from 'kafkajs';
import { Topic } from '@deltaflow/contracts';
import { blockChangesRetention, dlogRetention, type BlockChangesReader, type BlockChangesRetentionDecision, type ChangeLog, type DlogRetentionDecision } from '@deltaflow/dlog';
import { createKafka, registerGauges, type Sample } from '@deltaflow/service-kit';

export interface BlockChangesRetentionOptions {
  readonly brokers: readonly string[];
  /** the change logger's consumer group (the consumer of record) */
  readonly groupId: string;
  readonly clientId: string;
  readonly intervalMs: number;
  /** the partition indices this instance owns now */
  readonly owned: () => ReadonlySet<number>;
  /** the databases protected here, the partition each was seen on, and the DLOG (read while idle) */
  readonly databases: readonly number[];
  readonly partitionOf: (dbid: number) => number | undefined;
  readonly whileIdle: <T>(fn: () => T) => Promise<T>;
  readonly changeLog: ChangeLog;
  /** DLOG snapshots (dsf.dlog retention): records between rounds, and how a round is published (its first offset) */
  readonly dlogSnapshotEvery: number;
  readonly snapshot: (partition: number) => Promise<number | null>;
  readonly log: (m: string) => void;
}

const DEAD_STATES = new Set(['Empty', 'Dead']);
/** groups per DescribeGroups call (kafkajs sends one FindCoordinator per group first) */
const DESCRIBE_BATCH = 100;

/** What a wait is logged once for: who holds the cut, and whether it has committed anything (not how far it is). */
const sayOnce = (waiting: ReadonlyArray<{ holder: string; position: number | null }>): string => waiting.map((w) => `${w.holder}${w.position === null ? ' (nothing)' : ''}`).join(', ');

export class BlockChangesRetention {
  private admin?: Admin;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private readonly last = new Map<number, { logStart: number; decision: BlockChangesRetentionDecision }>();
  private readonly said = new Map<number, string>();
  /** per running save: what was secured on its partition when a pass first saw it (the cut stays below) */
  private readonly firstSeen = new Map<string, number>();
  private readonly dlogLast = new Map<number, { logStart: number; decision: DlogRetentionDecision }>();
  private readonly dlogSaid = new Map<number, string>();
  /** partition -> the first offsets of its complete rounds of DLOG snapshots at or above the log start, ascending */
  private readonly rounds = new Map<number, number[]>();
  private unregister?: () => void;

  constructor(private readonly o: BlockChangesRetentionOptions) {}

  async start(): Promise<void> {
    this.admin = createKafka({ clientId: `${this.o.clientId}-retention`, brokers: this.o.brokers }).admin();
    await this.admin.connect();
    this.unregister = registerGauges({
      deltaflow_block_changes_log_start_offset: {
        help: 'The first offset dsf.block-changes keeps, per partition this change logger owns (after the retention)',
        labelNames: ['partition'],
        read: () => [...this.last].map(([partition, l]): Sample => [{ partition }, l.logStart]),
      },
      deltaflow_block_changes_retention_waiting: {
        help: 'Records of dsf.block-changes the change logger has logged but the retention keeps for a lagging reader or a running save, per partition and holder',
        labelNames: ['partition', 'holder'],
        read: () => [...this.last].flatMap(([partition, l]) => l.decision.waiting.map((w): Sample => [{ partition, holder: w.holder }, w.heldBack])),
      },
      deltaflow_dlog_log_start_offset: {
        help: 'The first offset dsf.dlog keeps, per partition this change logger owns (after the DLOG snapshots and retention)',
        labelNames: ['partition'],
        read: () => [...this.dlogLast].map(([partition, l]): Sample => [{ partition }, l.logStart]),
      },
      deltaflow_dlog_retention_waiting: {
        help: 'Records of dsf.dlog below the last DLOG snapshots that the retention keeps for a lagging reader, per partition and holder',
        labelNames: ['partition', 'holder'],
        read: () => [...this.dlogLast].flatMap(([partition, l]) => l.decision.waiting.map((w): Sample => [{ partition, holder: w.holder }, w.heldBack])),
      },
    });
    this.timer = setInterval(() => void this.runOnce().catch((e) => this.o.log(`block-changes retention: ${(e as Error).message}; trying again in ${this.o.intervalMs} ms`)), this.o.intervalMs);
    this.timer.unref();
  }

  /** One pass over the owned partitions; returns the decisions (partition -> decision). */
  runOnce(): Promise<Map<number, BlockChangesRetentionDecision>> {
    const pass = (this.running ?? Promise.resolve()).then(() => this.pass());
    this.running = pass.catch(() => undefined);
    return pass;
  }

  /** The last dsf.dlog decision per partition (for tests and reports). */
  dlogDecisions(): ReadonlyMap<number, DlogRetentionDecision> {
    return new Map([...this.dlogLast].map(([p, l]) => [p, l.decision]));
  }

  /** The last decision per partition (for tests and reports). */
  decisions(): ReadonlyMap<number, BlockChangesRetentionDecision> {
    return new Map([...this.last].map(([p, l]) => [p, l.decision]));
  }

  private async pass(): Promise<Map<number, BlockChangesRetentionDecision>> {
    const admin = this.admin;
    if (!admin) throw new Error('block-changes retention not started');
    const owned = this.o.owned();
    const out = new Map<number, BlockChangesRetentionDecision>();
    if (owned.size === 0) return out;
    // the live readers of both topics from one ListGroups and one DescribeGroups, described again
    // for dsf.block-changes only if a round of DLOG snapshots took time in between
    let readersOf = this.liveReaders(admin);
    if (await this.dlogPass(admin, owned, readersOf)) readersOf = this.liveReaders(admin);
    const offsets = (await admin.fetchTopicOffsets(Topic.blockChanges)).filter((p) => owned.has(p.partition));
    const logged = await this.committed(admin, this.o.groupId, Topic.blockChanges);
    const readers = (await readersOf).get(Topic.blockChanges) ?? new Map<number, BlockChangesReader[]>();
    const saves = await this.runningSaves();
    // a save no longer running is forgotten; one seen the first time is held from what is secured now
    const running = new Set(saves.map((s) => s.correlationId));
    for (const id of [...this.firstSeen.keys()]) if (!running.has(id)) this.firstSeen.delete(id);
    for (const p of offsets) {
      const logStart = Number(p.low);
      const decision = blockChangesRetention({
        partition: p.partition,
        logStart,
        end: Number(p.high),
        logged: logged.get(p.partition) ?? null,
        readers: readers.get(p.partition) ?? [],
        runningSaves: saves.filter((s) => s.partition === undefined || s.partition === p.partition).map((s) => ({ ...s, from: this.seenFrom(s.correlationId, logged.get(p.partition), Number(p.high)) })),
      });
      const said = sayOnce(decision.waiting);
      if (this.said.get(p.partition) !== said) {
        this.said.set(p.partition, said);
        if (said !== '') this.o.log(`block-changes retention keeps dsf.block-changes[${p.partition}] from offset ${logStart}: ${decision.waiting.map((w) => w.why).join('; ')}`);
      }
      if (decision.cutBelow !== null) {
        await admin.deleteTopicRecords({ topic: Topic.blockChanges, partitions: [{ partition: p.partition, offset: String(decision.cutBelow) }] });
        this.o.log(`block-changes retention: dsf.block-changes[${p.partition}] truncated below offset ${decision.cutBelow} (was ${logStart}): ${decision.why}`);
      }
      this.last.set(p.partition, { logStart: decision.cutBelow ?? logStart, decision });
      out.set(p.partition, decision);
    }
    return out;
  }

  /**
   * dsf.dlog: a round of snapshots of a partition's databases once enough records were appended
   * since the last, then a cut below the round's first offset (waiting for live readers).
   */
  private async dlogPass(admin: Admin, owned: ReadonlySet<number>, readersOf: Promise<Map<string, Map<number, BlockChangesReader[]>>>): Promise<boolean> {
    let snapshotted = false;
    const offsets = (await admin.fetchTopicOffsets(Topic.dlog)).filter((p) => owned.has(p.partition));
    const readers = (await readersOf).get(Topic.dlog) ?? new Map<number, BlockChangesReader[]>();
    const unplaced = await this.o.whileIdle(() => this.o.databases.filter((dbid) => this.o.changeLog.state(dbid)?.lastLsn != null && this.o.partitionOf(dbid) === undefined));
    for (const p of offsets) {
      const logStart = Number(p.low);
      const rounds = (this.rounds.get(p.partition) ?? []).filter((r) => r >= logStart);
      this.rounds.set(p.partition, rounds);
      const ask = (end: number) =>
        dlogRetention({
          partition: p.partition,
          logStart,
          end,
          snapshotAt: rounds.length > 0 ? rounds[rounds.length - 1] : null,
          rounds,
          snapshotEvery: this.o.dlogSnapshotEvery,
          readers: readers.get(p.partition) ?? [],
          unplaced,
        });
      let decision = ask(Number(p.high));
      if (decision.snapshot) {
        // resolves once every part of the round is acknowledged: only then is it a round to cut below
        const at = await this.o.snapshot(p.partition);
        snapshotted = true;
        if (at !== null) {
          rounds.push(at);
          this.o.log(`DLOG snapshots of partition ${p.partition} written to dsf.dlog at offset ${at}`);
          decision = ask(at + 1);
        }
      }
      const said = sayOnce(decision.waiting);
      if (this.dlogSaid.get(p.partition) !== said) {
        this.dlogSaid.set(p.partition, said);
        if (said !== '') this.o.log(`DLOG retention keeps dsf.dlog[${p.partition}] from offset ${logStart}: ${decision.waiting.map((w) => w.why).join('; ')}`);
      }
      if (decision.cutBelow !== null) {
        await admin.deleteTopicRecords({ topic: Topic.dlog, partitions: [{ partition: p.partition, offset: String(decision.cutBelow) }] });
        this.o.log(`DLOG retention: dsf.dlog[${p.partition}] truncated below offset ${decision.cutBelow} (was ${logStart}): ${decision.why}`);
      }
      this.dlogLast.set(p.partition, { logStart: decision.cutBelow ?? logStart, decision });
    }
    return snapshotted;
  }

  /** A group's committed offsets on each of `topics` (topic -> partition -> offset; partitions without one are absent). */
  private async committedOn(admin: Admin, groupId: string, topics: readonly string[]): Promise<Map<string, Map<number, number>>> {
    const res = await admin.fetchOffsets({ groupId, topics: [...topics] });
    const out = new Map<string, Map<number, number>>();
    for (const t of res) {
      const m = new Map<number, number>();
      for (const p of t.partitions) if (Number(p.offset) >= 0) m.set(p.partition, Number(p.offset));
      out.set(t.topic, m);
    }
    return out;
  }

  private async committed(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
    return (await this.committedOn(admin, groupId, [topic])).get(topic) ?? new Map();
  }

  /**
   * topic -> partition -> the live groups (other than the change logger's) with a member assigned
   * it, and their committed offsets, for dsf.dlog and dsf.block-changes at once. Only consumer
   * groups are described (a group of another protocol type, or of none, the kind an offset commit
   * alone makes, has no member reading partitions): one ListGroups, then DescribeGroups in
   * batches of DESCRIBE_BATCH. Every consumer group is described on every call, Empty ones too:
   * a group left empty can get a member again at any time, and that reader must be waited for.
   */
  private async liveReaders(admin: Admin): Promise<Map<string, Map<number, BlockChangesReader[]>>> {
    const topics = [Topic.dlog, Topic.blockChanges];
    const out = new Map<string, Map<number, BlockChangesReader[]>>(topics.map((t) => [t, new Map()]));
    const ids = (await admin.listGroups()).groups.filter((g) => g.protocolType === 'consumer' && g.groupId !== this.o.groupId).map((g) => g.groupId);
    for (let i = 0; i < ids.length; i += DESCRIBE_BATCH) {
      const { groups } = await admin.describeGroups(ids.slice(i, i + DESCRIBE_BATCH));
      for (const g of groups) {
        if (DEAD_STATES.has(g.state) || g.members.length === 0) continue;
        const assigned = new Map<string, Set<number>>();
        for (const m of g.members) {
          if (!m.memberAssignment || m.memberAssignment.length === 0) continue;
          const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
          for (const t of topics) for (const p of a?.assignment[t] ?? []) assigned.set(t, (assigned.get(t) ?? new Set()).add(p));
        }
        if (assigned.size === 0) continue;
        const committed = await this.committedOn(admin, g.groupId, [...assigned.keys()]);
        for (const [t, partitions] of assigned) {
          const byPartition = out.get(t)!;
          for (const p of partitions) {
            const list = byPartition.get(p) ?? [];
            list.push({ group: g.groupId, committed: committed.get(t)?.get(p) ?? null });
            byPartition.set(p, list);
          }
        }
      }
    }
    return out;
  }

  /** Saves in progress (a DLOG capture pending or awaited), with their database's partition if known. */
  /** What was secured when a running save was first seen (undefined: nothing secured yet, it holds the whole partition). */
  private seenFrom(correlationId: string, logged: number | undefined, end: number): number | undefined {
    let from = this.firstSeen.get(correlationId);
    if (from === undefined && logged !== undefined) this.firstSeen.set(correlationId, (from = Math.min(logged, end)));
    return from;
  }

  private runningSaves(): Promise<Array<{ dbid: number; correlationId: string; partition: number | undefined }>> {
    return this.o.whileIdle(() =>
      this.o.databases.flatMap((dbid) => {
        const st = this.o.changeLog.state(dbid);
        if (!st) return [];
        const ids = [...(st.pending ? [st.pending.correlationId] : []), ...st.awaiting.map((a) => a.correlationId)];
        return ids.map((correlationId) => ({ dbid, correlationId, partition: this.o.partitionOf(dbid) }));
      }),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.unregister?.();
    await this.admin?.disconnect();
  }
}
