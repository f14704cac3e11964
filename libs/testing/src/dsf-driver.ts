/**
 * Drives Deltaflow as an operator's `dsf` does, for end-to-end tests: publishes a command on
 * dsf.commands and waits for its outcome on dsf.events (by correlation id). DSIMWAIT by hand for
 * DSIM commands (asked again while the DSIM is not complete).
 */
import type { AnyMessage, MessageOfType } from '@deltaflow/contracts';
import type { Publisher, TopicCollector } from './kafka-harness';

export type Outcome = AnyMessage & { correlationId: string };

/** The events that end a command (one of them answers each command). */
export const FINAL_EVENTS: ReadonlySet<string> = new Set([
  'SaveCompleted',
  'SaveFailed',
  'MergeCompleted',
  'RestoreCompleted',
  'RestoreInterrupted',
  'ShadowRegenerated',
  'FileUnloaded',
  'CommandRejected',
  'CommandFailed',
  'DsimUnloaded',
  'DsimSnapshotted',
  'DsimReset',
  'ScheduleDefined',
  'ScheduleRemoved',
  'RetentionSet',
  'DataSetExpired',
]);

export class DsfDriver {
  private n = 0;

  constructor(
    private readonly pub: Publisher,
    private readonly events: TopicCollector,
    private readonly timeoutMs = 300_000,
  ) {}

  /** A correlation id unique in this driver. */
  id(prefix: string): string {
    return `${prefix}-${++this.n}`;
  }

  async send(command: AnyMessage & { correlationId: string }, timeoutMs = this.timeoutMs): Promise<Outcome> {
    await this.pub.publish(command);
    return this.outcome(command.correlationId, timeoutMs);
  }

  /** The outcome of a command sent earlier. */
  outcome(correlationId: string, timeoutMs = this.timeoutMs): Promise<Outcome> {
    return this.events.waitFor<Outcome>((m) => FINAL_EVENTS.has(m.type) && 'correlationId' in m && m.correlationId === correlationId, timeoutMs, `the outcome of ${correlationId}`);
  }

  /** An online (or offline) save into the data set `name`; its outcome, completed or failed. */
  save(dbid: number, kind: 'full' | 'delta', name: string, online = true): Promise<MessageOfType<'SaveCompleted'> | MessageOfType<'SaveFailed'>> {
    return this.send({ type: 'SaveRequested', correlationId: name, dbid, kind, online, destination: { kind: 'directory', name } }) as Promise<
      MessageOfType<'SaveCompleted'> | MessageOfType<'SaveFailed'>
    >;
  }

  /** DSIMWAIT by hand: unload (or snapshot) the DSIM, asked again while it is not complete. */
  async dsim(dbid: number, type: 'DsimUnloadRequested' | 'DsimSnapshotRequested', dest: string, attempts = 400): Promise<Outcome> {
    for (let attempt = 1; ; attempt++) {
      const correlationId = `${type}-${dest}-${attempt}`;
      const o = await this.send(type === 'DsimUnloadRequested' ? { type, correlationId, dbid, destination: { kind: 'directory', name: dest } } : { type, correlationId, dbid, destination: dest });
      if (o.type === 'CommandRejected' && o.code === 'DSIM_NOT_COMPLETE' && attempt < attempts) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      return o;
    }
  }

  merge(dbid: number, dest: string, inputs: string[], extra: { full?: boolean; dsimWaitSec?: number } = {}): Promise<Outcome> {
    return this.send({ type: 'MergeRequested', correlationId: this.id(`merge-${dest}`), dbid, inputs, output: { kind: 'directory', name: dest }, ...extra });
  }

  restore(dbid: number, target: string, inputs: string[], extra: Record<string, unknown> = {}): Promise<Outcome> {
    return this.send({ type: 'RestoreRequested', correlationId: this.id(`restore-${target}`), dbid, inputs, target, ...extra } as AnyMessage & { correlationId: string });
  }
}
