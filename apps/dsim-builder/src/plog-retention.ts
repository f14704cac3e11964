/**
 * Truncates dsf.plog below what is secured (issue 13, docs/ARCHITECTURE.md "Retention"): the
 * DSIM builder is the PLOG's consumer of record (it copies every record into PostgreSQL before
 * its offset moves), so it decides when the topic may let records go. The decision is
 * @deltaflow/save-chain `plogRetention` over the facts stored with the PLOG copy (sync offsets,
 * completed saves, the applied offset); the cut is Kafka's DeleteRecords, so the same code works
 * on any Kafka. Every instance may run it: the facts are shared in PostgreSQL and a cut is
 * idempotent. A database that keeps everything is said once per reason in the log and in
 * deltaflow_plog_retention_waiting.
 */
import { Topic } from '@deltaflow/contracts';
import { plogRetention, type PlogRetentionDecision } from '@deltaflow/save-chain';
import { createKafka, registerGauges, type Sample } from '@deltaflow/service-kit';
import type { Admin } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { forgetSyncsBelow, retentionFacts } from './dsim-store';

export interface PlogRetentionOptions {
  readonly brokers: readonly string[];
  readonly ds: DataSource;
  /** PLOG since the start of the last N completed saves of each database */
  readonly keepSaves: number;
  readonly intervalMs: number;
  readonly log: (m: string) => void;
}

export class PlogRetention {
  private admin?: Admin;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly last = new Map<number, { logStart: number; decision: PlogRetentionDecision }>();
  private readonly said = new Map<number, string>();
  private unregister?: () => void;

  constructor(private readonly o: PlogRetentionOptions) {}

  async start(): Promise<void> {
    this.admin = createKafka({ clientId: 'dsim-builder-retention', brokers: this.o.brokers }).admin();
    await this.admin.connect();
    this.unregister = registerGauges({
      deltaflow_plog_log_start_offset: {
        help: 'The first offset dsf.plog keeps, per partition (after the PLOG retention)',
        labelNames: ['partition'],
        read: () => [...this.last].map(([partition, l]): Sample => [{ partition }, l.logStart]),
      },
      deltaflow_plog_retention_waiting: {
        help: 'Databases whose PLOG the retention keeps whole (too few completed saves, no sync point known): 1',
        labelNames: ['dbid'],
        read: () => [...this.last.values()].flatMap((l) => l.decision.databases.filter((d) => d.keepFrom === null).map((d): Sample => [{ dbid: d.dbid }, 1])),
      },
    });
    this.timer = setInterval(() => void this.runOnce().catch((e) => this.o.log(`PLOG retention: ${(e as Error).message}; trying again in ${this.o.intervalMs} ms`)), this.o.intervalMs);
    this.timer.unref();
  }

  /** One pass over every partition; returns the cuts made (partition -> offset). */
  runOnce(): Promise<Map<number, number>> {
    const pass = (this.running ?? Promise.resolve()).then(() => this.pass());
    this.running = pass.then(
      () => undefined,
      () => undefined,
    );
    return pass;
  }

  private async pass(): Promise<Map<number, number>> {
    const admin = this.admin;
    if (!admin) throw new Error('PLOG retention not started');
    const cuts = new Map<number, number>();
    for (const p of await admin.fetchTopicOffsets(Topic.plog)) {
      const logStart = Number(p.low);
      const facts = await retentionFacts(this.o.ds.manager, Topic.plog, p.partition);
      const decision = plogRetention({ keepSaves: this.o.keepSaves, applied: facts.applied, logStart, databases: facts.databases });
      for (const d of decision.databases) {
        if (d.keepFrom !== null || this.said.get(d.dbid) === d.why) continue;
        this.said.set(d.dbid, d.why);
        this.o.log(`PLOG retention keeps partition ${p.partition} whole for database ${d.dbid}: ${d.why}`);
      }
      if (decision.cutBelow !== null) {
        await admin.deleteTopicRecords({ topic: Topic.plog, partitions: [{ partition: p.partition, offset: String(decision.cutBelow) }] });
        await forgetSyncsBelow(this.o.ds.manager, p.partition, decision.cutBelow);
        this.o.log(`PLOG retention: dsf.plog[${p.partition}] truncated below offset ${decision.cutBelow} (was ${logStart}); ${decision.databases.map((d) => `database ${d.dbid}: ${d.why}`).join('; ')}`);
        cuts.set(p.partition, decision.cutBelow);
      }
      this.last.set(p.partition, { logStart: decision.cutBelow ?? logStart, decision });
    }
    return cuts;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.unregister?.();
    await this.admin?.disconnect();
  }
}
