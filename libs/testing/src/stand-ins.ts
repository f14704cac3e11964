/**
 * Minimal upstream stand-ins for integration tests of the save writer, over the real broker:
 * a nucleus that owns a block database, writes blocks and answers SyncRequested with EtSync
 * at its current LSN; and a change logger that answers a delta SaveStarted with a DlogCaptured
 * of the blocks the test says changed. (The real nucleus-sim and change-logger replace them
 * in the end-to-end test.)
 */
import { randomUUID } from 'node:crypto';
import { BlockDatabase } from '@deltaflow/blockdb';
import { areaBlocksOf, type BlockRange, type Geometry } from '@deltaflow/blocks';
import { fillImage } from '@deltaflow/blocks/testing';
import { blocksToSave } from '@deltaflow/dlog';
import { decodeFrom, type AnyMessage } from '@deltaflow/contracts';
import { dsim, type DsimEvent, type DsimState } from '@deltaflow/save-chain';
import { createKafka } from '@deltaflow/service-kit';
import type { Consumer } from 'kafkajs';
import { Publisher, TopicCollector } from './kafka-harness';

export class StandInNucleus {
  lsn = 0;
  private consumer?: Consumer;
  constructor(
    readonly db: BlockDatabase,
    private readonly brokers: string[],
    private readonly pub: Publisher,
  ) {}

  async start(): Promise<this> {
    const kafka = createKafka({ clientId: 'stand-in-nucleus', brokers: this.brokers, quiet: true });
    this.consumer = kafka.consumer({ groupId: `nucleus-${randomUUID()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: 'nucleus.commands', fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const m = decodeFrom('nucleus.commands', message.value);
        await this.pub.publish({ type: 'EtSync', dbid: this.db.dbid, lsn: ++this.lsn, syncId: m.syncId });
      },
    });
    return this;
  }

  async setActive(active: boolean): Promise<void> {
    await this.pub.publish({ type: 'NucleusState', dbid: this.db.dbid, lsn: ++this.lsn, active, at: Date.now() });
  }

  async write(area: 'ASSO' | 'DATA', rabn: number, seed: number): Promise<void> {
    const image = fillImage(this.db.blockSize(area), seed);
    this.db.writeBlock(area, rabn, image);
    await this.pub.publish({ type: 'BlockChanged', dbid: this.db.dbid, area, rabn, lsn: ++this.lsn, txn: 1, image });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** Answers every delta SaveStarted (not in `ignore`) with a DlogCaptured of `changed` (plus the admin blocks every save holds). */
export class StandInChangeLogger {
  changed: BlockRange[] = [];
  /** the geometry of the database the captures are for */
  geometry?: Geometry;
  readonly ignore = new Set<string>();
  private timer?: NodeJS.Timeout;
  private answered = new Set<string>();
  constructor(
    private readonly events: TopicCollector,
    private readonly pub: Publisher,
  ) {}
  start(): this {
    this.timer = setInterval(() => {
      for (const m of this.events.messages) {
        if (m.type !== 'SaveStarted' || m.kind !== 'delta' || this.answered.has(m.correlationId) || this.ignore.has(m.correlationId)) continue;
        this.answered.add(m.correlationId);
        void this.pub.publish({
          type: 'DlogCaptured',
          dbid: m.dbid,
          correlationId: m.correlationId,
          syncLsn: m.startLsn ?? 0,
          ranges: this.geometry ? blocksToSave({ blocks: areaBlocksOf(this.changed), marks: [] }, this.geometry) : this.changed,
          marks: [],
          occurredAt: Date.now(),
        });
      }
    }, 10);
    return this;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The DSIM builder's decisions without its storage: folds dsf.events through the real DSIM
 * decider (@deltaflow/save-chain) and answers an online save's start with DsimAcquired or
 * DsimRejected, as the service does. For tests of the save writer alone.
 */
export class StandInDsimBuilder {
  private timer?: NodeJS.Timeout;
  private seen = 0;
  private states = new Map<number, DsimState>();
  constructor(
    private readonly events: TopicCollector,
    private readonly pub: Publisher,
  ) {}
  start(): this {
    this.timer = setInterval(() => {
      const all = this.events.messages;
      for (; this.seen < all.length; this.seen++) void this.fold(all[this.seen]);
    }, 10);
    return this;
  }
  private async fold(m: AnyMessage): Promise<void> {
    if (!('dbid' in m) || m.dbid === undefined) return;
    const before = this.states.get(m.dbid) ?? dsim.initialState();
    const apply = (events: DsimEvent[]) => this.states.set(m.dbid!, events.reduce(dsim.evolve, this.states.get(m.dbid!) ?? before));
    switch (m.type) {
      case 'SaveStarted': {
        if (!m.online) return;
        const events = dsim.decide({ type: 'Acquire', correlationId: m.correlationId, dsid: m.dsid, startLsn: m.startLsn ?? 0 }, before);
        apply(events);
        for (const e of events) {
          if (e.type === 'DsimAcquired') await this.pub.publish({ ...e, dbid: m.dbid, occurredAt: Date.now() });
          if (e.type === 'DsimRejected') await this.pub.publish({ type: 'DsimRejected', correlationId: e.correlationId, dbid: m.dbid, code: e.code, reason: e.reason, occurredAt: Date.now() });
        }
        return;
      }
      case 'SaveCompleted':
        if (!m.online) return;
        apply(dsim.decide({ type: 'EndSave', correlationId: m.correlationId, outcome: 'completed', endLsn: m.endLsn ?? 0 }, before));
        apply(dsim.decide({ type: 'RecordPlogSync', lsn: m.endLsn ?? 0 }, this.states.get(m.dbid)!));
        apply(dsim.decide({ type: 'Complete', correlationId: m.correlationId, blocks: 0 }, this.states.get(m.dbid)!));
        return;
      case 'SaveFailed':
        apply(dsim.decide({ type: 'EndSave', correlationId: m.correlationId, outcome: 'failed' }, before));
        return;
      case 'DsimUnloaded':
      case 'DsimReset':
        apply([{ type: 'DsimReset', correlationId: m.correlationId }]);
        return;
      default:
        return;
    }
  }
  stop(): void {
    clearInterval(this.timer);
  }
}
