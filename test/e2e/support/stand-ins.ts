/**
 * Minimal upstream stand-ins for integration tests of the save writer, over the real broker:
 * a nucleus that owns a block database, writes blocks and answers SyncRequested with EtSync
 * at its current LSN; and a change logger that answers a delta SaveStarted with a DlogCaptured
 * of the blocks the test says changed. (The real nucleus-sim and change-logger replace them
 * in the end-to-end test.)
 */
import { randomUUID } from 'node:crypto';
import { BlockDatabase, BlockRange, Geometry } from '@deltaflow/blockdb';
import { decodeFrom } from '@deltaflow/contracts';
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { Publisher, TopicCollector } from './kafka-harness';

export const SMALL_GEOMETRY: Geometry = {
  asso: { blockSize: 512, blocks: 64 },
  data: { blockSize: 1024, blocks: 256 },
  maxFiles: 4,
  files: [
    { file: 1, extents: [{ kind: 'DS', from: 1, to: 200 }, { kind: 'AC', from: 20, to: 30 }] },
    { file: 2, extents: [{ kind: 'DS', from: 201, to: 256 }] },
  ],
} as unknown as Geometry;

export function fillImage(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

export class StandInNucleus {
  lsn = 0;
  private consumer?: Consumer;
  constructor(
    readonly db: BlockDatabase,
    private readonly brokers: string[],
    private readonly pub: Publisher,
  ) {}

  async start(): Promise<this> {
    const kafka = new Kafka({ clientId: 'stand-in-nucleus', brokers: this.brokers, logLevel: logLevel.NOTHING });
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

/** Answers every delta SaveStarted (not in `ignore`) with a DlogCaptured of `changed`. */
export class StandInChangeLogger {
  changed: BlockRange[] = [];
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
        if (m.type !== 'SaveStarted' || m.mode !== 'delta' || this.answered.has(m.correlationId) || this.ignore.has(m.correlationId)) continue;
        this.answered.add(m.correlationId);
        void this.pub.publish({
          type: 'DlogCaptured',
          dbid: m.dbid,
          captureId: `cap-${m.correlationId}`,
          correlationId: m.correlationId,
          syncLsn: m.startLsn ?? 0,
          ranges: this.changed,
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
