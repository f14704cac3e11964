/**
 * The scheduler: runs the seed's sample schedule of each database that has one, as a Nest provider.
 * The decisions are `@deltaflow/save-chain`'s schedule decider; this provider feeds it the log and
 * the clock and carries out what it decides.
 *
 * Its state is the log: a TopicReader folds dsf.events (the schedules' own events and the outcomes
 * of their steps) and dsf.commands (which step commands were sent) of every partition. Every
 * `tickMs` (and as soon as an outcome arrives) it asks the decider, for each database whose
 * partition this group member owns, what is due: ScheduleStepStarted is published first, then the
 * step's command (a save, a DSIM unload or a merge) with the step's correlation id; the outcome
 * completes (or fails) the step. Before each decision the reader reaches the end of both topics,
 * so a restarted scheduler, or the member that inherits a partition, sees what was decided and
 * sent and sends nothing twice; a command sent twice all the same (two members during a
 * rebalance) carries the same correlation id and its service handles it once.
 */
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topic, type AnyMessage, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { SaveChainError, schedule, type ScheduleEvent, type ScheduleState, type StepOutcome, type StepPlan } from '@deltaflow/save-chain';
import { Assignments, EventPublisher, TopicReader } from '@deltaflow/service-kit';

export interface SchedulerConfig {
  readonly brokers: readonly string[];
  readonly groupId?: string;
  readonly clientId?: string;
  /** how often due steps are looked for (default 1000 ms) */
  readonly tickMs?: number;
  readonly log?: (m: string) => void;
  readonly now?: () => number;
}

export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');

type ScheduleCommandMessage = MessageOfType<'ScheduleDefineRequested'> | MessageOfType<'ScheduleRemoveRequested'>;
type LogMessage = TopicMessage<'dsf.events'> | TopicMessage<'dsf.commands'>;

@Injectable()
export class SchedulerService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private publisher!: EventPublisher<AnyMessage>;
  private reader?: TopicReader<LogMessage>;
  /** the schedule state of every database with a schedule event in the log */
  private readonly states = new Map<number, ScheduleState>();
  private readonly partitionOf = new Map<number, number>();
  /** correlation ids of define/remove commands already answered */
  private readonly answered = new Set<string>();
  private timer?: NodeJS.Timeout;
  private ticking: Promise<void> = Promise.resolve();
  private tickQueued = false;
  private stopped = false;
  private readonly log: (m: string) => void;
  private readonly now: () => number;

  constructor(
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    private readonly assignments: Assignments,
  ) {
    this.log = config.log ?? ((m: string) => console.log(`[scheduler] ${m}`));
    this.now = config.now ?? Date.now;
  }

  async onModuleInit(): Promise<void> {
    const clientId = this.config.clientId ?? 'scheduler';
    this.publisher = new EventPublisher<AnyMessage>(this.config.brokers, clientId, (m) => encodeMessage(m));
    await this.publisher.connect();
    this.reader = new TopicReader<LogMessage>({
      brokers: this.config.brokers,
      clientId,
      topics: [Topic.dsfEvents, Topic.dsfCommands],
      skipTypes: ['SaveProgress', 'OperationProgress'],
      onMessage: (m, at) => this.onLog(m, at.partition),
      log: this.log,
    });
    await this.reader.start();
    await this.reader.caughtUp;
    this.timer = setInterval(() => this.tick(), this.config.tickMs ?? 1000);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.stop();
    await this.publisher?.close();
  }

  /** A define or remove from dsf.commands: answered by ScheduleDefined / ScheduleRemoved or CommandRejected. */
  onCommand(c: ScheduleCommandMessage): Promise<void> {
    // one decision at a time: a tick deciding from the state before a removal would start a step after it
    const run = this.ticking.then(() => this.answer(c));
    this.ticking = run.catch(() => undefined);
    return run;
  }

  private async answer(c: ScheduleCommandMessage): Promise<void> {
    await this.reader?.barrier();
    if (this.answered.has(c.correlationId)) return; // redelivered
    const state = this.states.get(c.dbid) ?? schedule.initialState();
    const now = this.now();
    let events: ScheduleEvent[];
    try {
      events =
        c.type === 'ScheduleDefineRequested'
          ? schedule.decide(
              { type: 'Define', correlationId: c.correlationId, definition: { scheduleId: c.scheduleId, dbid: c.dbid, deltaEveryMs: c.deltaEveryMs, cycleMs: c.cycleMs, startAt: c.startAt ?? now }, now },
              state,
            )
          : schedule.decide({ type: 'Remove', correlationId: c.correlationId, now }, state);
    } catch (e) {
      if (!(e instanceof SaveChainError)) throw e;
      this.log(`${c.type} ${c.correlationId} rejected: ${e.code}: ${e.message}`);
      await this.publisher.publish({ type: 'CommandRejected', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, code: e.code, reason: e.message.slice(0, 4000), occurredAt: now });
      return;
    }
    if (events.length === 0) return;
    await this.publisher.publish(...events.map((e) => toMessage(c.dbid, e)));
    await this.reader?.barrier();
    this.log(`${c.type === 'ScheduleDefineRequested' ? `schedule ${c.scheduleId} defined` : 'schedule removed'} for database ${c.dbid}`);
    this.tick();
  }

  // -------------------------------------------------------------------------------------
  // The log

  private onLog(m: LogMessage, partition: number): void {
    if (!('dbid' in m) || typeof m.dbid !== 'number') return;
    const dbid = m.dbid;
    this.partitionOf.set(dbid, partition);
    switch (m.type) {
      case 'ScheduleDefined':
      case 'ScheduleRemoved':
        this.answered.add(m.correlationId);
        this.apply(dbid, fromMessage(m));
        return;
      case 'ScheduleStepStarted':
      case 'ScheduleStepCompleted':
      case 'ScheduleStepFailed':
      case 'ScheduleHalted':
        this.apply(dbid, fromMessage(m));
        return;
      case 'SaveCompleted':
      case 'MergeCompleted':
      case 'DsimUnloaded':
        this.observe(dbid, m.correlationId, { ok: true, dsid: m.dsid }, m.occurredAt);
        return;
      case 'SaveFailed':
      case 'CommandFailed':
        this.observe(dbid, m.correlationId, { ok: false, code: m.code, reason: m.reason }, m.occurredAt);
        return;
      case 'CommandRejected':
        if (m.commandType === 'ScheduleDefineRequested' || m.commandType === 'ScheduleRemoveRequested') this.answered.add(m.correlationId);
        else this.observe(dbid, m.correlationId, { ok: false, code: m.code, reason: m.reason }, m.occurredAt);
        return;
      default:
        // a command on dsf.commands: perhaps a step's (the decider keeps only its schedule's)
        if ('correlationId' in m && m.type.endsWith('Requested') && this.states.has(dbid)) this.apply(dbid, { type: 'CommandSeen', correlationId: m.correlationId });
        return;
    }
  }

  private apply(dbid: number, e: ScheduleEvent): void {
    this.states.set(dbid, schedule.evolve(this.states.get(dbid) ?? schedule.initialState(), e));
  }

  private observe(dbid: number, correlationId: string, outcome: StepOutcome, at: number): void {
    const s = this.states.get(dbid);
    if (s?.running?.plan.correlationId !== correlationId) return;
    this.apply(dbid, { type: 'OutcomeObserved', correlationId, outcome, occurredAt: at });
    this.tick(); // record it and start what follows now, not at the next tick
  }

  // -------------------------------------------------------------------------------------
  // Deciding

  /** Runs one decision round after the current one (at most one queued). */
  private tick(): void {
    if (this.stopped || this.tickQueued) return;
    this.tickQueued = true;
    this.ticking = this.ticking
      .then(async () => {
        this.tickQueued = false;
        if (!this.stopped) await this.round();
      })
      .catch((e) => this.log(`deciding failed (tried again at the next tick): ${(e as Error).message}`));
  }

  private async round(): Promise<void> {
    if (!this.assignments.assigned || !this.reader) return;
    // nothing to decide (and no broker round trip) while no database has a schedule
    if (![...this.states.values()].some((s) => s.definition !== null)) return;
    await this.reader.barrier();
    const owned = this.assignments.indices();
    for (const dbid of [...this.states.keys()]) {
      const partition = this.partitionOf.get(dbid);
      if (partition === undefined || !owned.has(partition)) continue;
      // until nothing more is due: record an outcome, start the next step, send its command
      for (let i = 0; i < 4 && !this.stopped; i++) {
        const events = schedule.decide({ type: 'Tick', now: this.now() }, this.states.get(dbid)!);
        if (events.length > 0) {
          await this.publisher.publish(...events.map((e) => toMessage(dbid, e)));
          await this.reader.barrier();
          for (const e of events) this.describe(e);
        }
        const plan = schedule.commandToSend(this.states.get(dbid)!);
        if (plan) {
          await this.publisher.publish(commandMessage(dbid, plan));
          await this.reader.barrier();
        }
        if (events.length === 0 && !plan) break;
      }
    }
  }

  private describe(e: ScheduleEvent): void {
    if (e.type === 'ScheduleStepStarted') this.log(`${e.correlationId}: ${e.step} of cycle ${e.cycle}, day ${e.day} (attempt ${e.attempt}) -> ${e.command.output}`);
    else if (e.type === 'ScheduleStepCompleted') this.log(`${e.correlationId}: completed`);
    else if (e.type === 'ScheduleStepFailed') this.log(`${e.correlationId}: failed ${e.code}: ${e.reason}${e.retryAt ? `; tried again at ${new Date(e.retryAt).toISOString()}` : ''}`);
    else if (e.type === 'ScheduleHalted') this.log(`schedule ${e.scheduleId} halted: ${e.reason}`);
  }
}

/** A decider event as the message published on dsf.events. */
function toMessage(dbid: number, e: ScheduleEvent): AnyMessage {
  switch (e.type) {
    case 'ScheduleDefined':
      return { type: 'ScheduleDefined', correlationId: e.correlationId, dbid, scheduleId: e.scheduleId, deltaEveryMs: e.deltaEveryMs, cycleMs: e.cycleMs, startAt: e.startAt, occurredAt: e.occurredAt };
    case 'ScheduleRemoved':
      return { ...e, dbid };
    case 'ScheduleStepStarted': {
      const c = e.command;
      return {
        type: 'ScheduleStepStarted',
        correlationId: e.correlationId,
        dbid,
        scheduleId: e.scheduleId,
        cycle: e.cycle,
        day: e.day,
        step: e.step,
        attempt: e.attempt,
        commandType: c.type,
        ...(c.type === 'SaveRequested' ? { online: c.online } : {}),
        ...(c.type === 'MergeRequested' ? { inputs: [...c.inputs] } : {}),
        output: c.output,
        dueAt: e.dueAt,
        occurredAt: e.occurredAt,
      };
    }
    case 'ScheduleStepCompleted':
    case 'ScheduleStepFailed':
    case 'ScheduleHalted':
      return { ...e, dbid };
    default:
      throw new Error(`${e.type} is not published`);
  }
}

/** A schedule message from the log as the decider's event. */
function fromMessage(
  m: MessageOfType<'ScheduleDefined' | 'ScheduleRemoved' | 'ScheduleStepStarted' | 'ScheduleStepCompleted' | 'ScheduleStepFailed' | 'ScheduleHalted'>,
): ScheduleEvent {
  if (m.type === 'ScheduleStepStarted') {
    const { dbid: _d, commandType: _c, online: _o, inputs, output, ...rest } = m;
    return { ...rest, command: schedule.commandOf(m.step, output, inputs) };
  }
  if (m.type === 'ScheduleDefined') return m; // its dbid is part of the definition
  const { dbid: _d, ...rest } = m;
  return rest as ScheduleEvent;
}

/** The command a step sends, with the step's correlation id (data sets in the data set directory). */
function commandMessage(dbid: number, p: StepPlan): AnyMessage {
  const c = p.command;
  const to = { kind: 'directory' as const, name: c.output };
  switch (c.type) {
    case 'SaveRequested':
      return { type: 'SaveRequested', correlationId: p.correlationId, dbid, kind: c.kind, online: c.online, destination: to };
    case 'DsimUnloadRequested':
      return { type: 'DsimUnloadRequested', correlationId: p.correlationId, dbid, destination: to };
    case 'MergeRequested':
      return { type: 'MergeRequested', correlationId: p.correlationId, dbid, inputs: [...c.inputs], output: to, ...(c.full ? { full: true } : {}), ...(c.dsimWaitSec > 0 ? { dsimWaitSec: c.dsimWaitSec } : {}) };
  }
}
