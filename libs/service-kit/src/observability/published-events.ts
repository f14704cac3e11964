/**
 * Metrics derived from what this process publishes, so no service has code of its own for them.
 * Every producer made by `createKafka` reports the records Kafka acknowledged (`observeProduced`):
 *
 * - deltaflow_events_published_total{topic, type}: the `df-type` header every Deltaflow record carries;
 * - the operations: SaveStarted → SaveCompleted | SaveFailed, MergeStarted → MergeCompleted |
 *   CommandFailed, RestoreStarted → RestoreCompleted | RestoreInterrupted | CommandFailed, matched by
 *   correlationId: deltaflow_operations_total, deltaflow_operation_duration_seconds (occurredAt of the
 *   outcome minus occurredAt of the start), deltaflow_operations_running;
 * - bytes and blocks written from the outcomes (SaveCompleted, MergeCompleted, DsimUnloaded, ...);
 * - superblocks and bytes placed from RunPlaced.
 *
 * Only records of the few types above are decoded (small events); block images are never touched.
 */
import { decodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { serviceMetrics } from './metrics';

/** The header naming a record's message type (libs/contracts envelope). */
const TYPE_HEADER = 'df-type';

type Operation = 'save' | 'merge' | 'restore';
type Outcome = 'completed' | 'failed' | 'interrupted';

const STARTS: Partial<Record<AnyMessage['type'], Operation>> = { SaveStarted: 'save', MergeStarted: 'merge', RestoreStarted: 'restore' };
const ENDS: Partial<Record<AnyMessage['type'], [Operation | undefined, Outcome]>> = {
  SaveCompleted: ['save', 'completed'],
  SaveFailed: ['save', 'failed'],
  MergeCompleted: ['merge', 'completed'],
  RestoreCompleted: ['restore', 'completed'],
  RestoreInterrupted: ['restore', 'interrupted'],
  // the operation is the one started under its correlation id (else its commandType says)
  CommandFailed: [undefined, 'failed'],
};
const OTHER_DECODED = new Set<string>(['DsimUnloaded', 'DsimSnapshotted', 'FileUnloaded', 'RunPlaced']);

function decodes(type: string): boolean {
  return type in STARTS || type in ENDS || OTHER_DECODED.has(type);
}

/** Operations that outlive this many open starts are forgotten, oldest first (a start whose outcome never came). */
const MAX_OPEN = 10_000;

/**
 * Started operations by correlation id, and what their outcomes count. One per process
 * (`operationTracker()`); separate instances for tests.
 */
export class OperationTracker {
  private readonly open = new Map<string, { operation: Operation; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get running(): number {
    return this.open.size;
  }

  observe(m: AnyMessage): void {
    const metrics = serviceMetrics();
    const id = (m as { correlationId?: string }).correlationId;
    const start = STARTS[m.type];
    if (start !== undefined && id) {
      const previous = this.open.get(id);
      if (previous) metrics.operationsRunning.dec({ operation: previous.operation });
      this.open.delete(id);
      this.open.set(id, { operation: start, at: occurredAt(m) ?? this.now() });
      metrics.operationsRunning.inc({ operation: start });
      if (this.open.size > MAX_OPEN) {
        const [oldest, o] = this.open.entries().next().value as [string, { operation: Operation }];
        this.open.delete(oldest);
        metrics.operationsRunning.dec({ operation: o.operation });
      }
      return;
    }
    const end = ENDS[m.type];
    if (end !== undefined && id) {
      const started = this.open.get(id);
      const operation = end[0] ?? started?.operation ?? operationOfCommand(m);
      if (operation === undefined) return;
      const outcome = end[1];
      metrics.operations.inc({ operation, outcome });
      if (started && started.operation === operation) {
        this.open.delete(id);
        metrics.operationsRunning.dec({ operation });
        const seconds = Math.max(0, ((occurredAt(m) ?? this.now()) - started.at) / 1000);
        metrics.operationSeconds.observe({ operation, outcome }, seconds);
      }
    }
    written(m);
  }
}

function occurredAt(m: AnyMessage): number | undefined {
  const at = (m as { occurredAt?: unknown }).occurredAt;
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
}

function operationOfCommand(m: AnyMessage): Operation | undefined {
  if (m.type !== 'CommandFailed') return undefined;
  if (/^Save/.test(m.commandType)) return 'save';
  if (/^Merge/.test(m.commandType)) return 'merge';
  if (/^(Restore|Shadow)/.test(m.commandType)) return 'restore';
  return undefined;
}

function written(m: AnyMessage): void {
  const metrics = serviceMetrics();
  switch (m.type) {
    case 'SaveCompleted':
      metrics.bytesWritten.inc({ kind: 'save' }, m.bytes);
      metrics.blocksWritten.inc({ kind: 'save' }, m.blocks);
      break;
    case 'MergeCompleted':
      if (m.bytes !== undefined) metrics.bytesWritten.inc({ kind: 'merge' }, m.bytes);
      metrics.blocksWritten.inc({ kind: 'merge' }, m.blocks);
      break;
    case 'DsimUnloaded':
      // the event has no byte count: blocks only
      metrics.blocksWritten.inc({ kind: 'dsim-unload' }, m.blocks);
      break;
    case 'DsimSnapshotted':
      metrics.blocksWritten.inc({ kind: 'dsim-snapshot' }, m.blocks);
      break;
    case 'RestoreCompleted':
      metrics.blocksWritten.inc({ kind: 'restore' }, m.blocks);
      break;
    case 'FileUnloaded':
      metrics.bytesWritten.inc({ kind: 'file-unload' }, m.bytes);
      metrics.blocksWritten.inc({ kind: 'file-unload' }, m.blocks);
      break;
    case 'RunPlaced':
      metrics.superblocksPlaced.inc({ stream: m.stream }, m.superblocks);
      metrics.streamBytesPlaced.inc({ stream: m.stream }, m.bytes);
      break;
    default:
      break;
  }
}

let tracker: OperationTracker | undefined;

/** The process's operation tracker. */
export function operationTracker(): OperationTracker {
  return (tracker ??= new OperationTracker());
}

/** A record as kafkajs is given it. */
export interface ProducedRecord {
  readonly value?: Buffer | string | null;
  readonly headers?: Readonly<Record<string, unknown>>;
}

function headerText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v) && v.length > 0) return headerText(v[0]);
  return undefined;
}

/** Counts records Kafka acknowledged on `topic` and feeds the operation metrics. Never throws. */
export function observeProduced(topic: string, records: readonly ProducedRecord[]): void {
  try {
    const metrics = serviceMetrics();
    const byType = new Map<string, number>();
    for (const r of records) {
      const type = headerText(r.headers?.[TYPE_HEADER]) ?? 'unknown';
      byType.set(type, (byType.get(type) ?? 0) + 1);
      if (decodes(type) && r.value) {
        try {
          operationTracker().observe(decodeMessage(typeof r.value === 'string' ? Buffer.from(r.value) : r.value));
        } catch {
          // not a Deltaflow message after all: counted by its header only
        }
      }
    }
    for (const [type, n] of byType) metrics.published.inc({ topic, type }, n);
  } catch {
    // metrics never fail a publish
  }
}
