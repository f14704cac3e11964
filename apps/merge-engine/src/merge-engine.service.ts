/**
 * The merge engine (seed: ADASAV MERGE, RESTORE DELTA, shadow databases, REGENERATE, ADAULD), as a
 * Nest provider. The decisions are @deltaflow/merge's and @deltaflow/dsid's: which inputs combine
 * (the DSID rules, checked before anything is written), the k-way merge, the restore and its
 * restart. This provider turns commands from dsf.commands into those calls and reports every
 * operation on dsf.events, so merges and restores can be audited and replayed.
 *
 * A command is accepted in the handler (inputs resolved and checked, MergeStarted/RestoreStarted
 * published, or CommandRejected naming the rule) and then runs in the background, one operation
 * at a time, with OperationProgress every few MiB and MergeCompleted / RestoreCompleted /
 * ShadowRegenerated / FileUnloaded or CommandFailed at the end. The outcome events are folded at
 * start, so a redelivered command is done once; an operation a crash interrupted is reported:
 * a merge fails (nothing is left under its destination name), a restore is RestoreInterrupted
 * and continues when resubmitted without the full save (`dsf restore --resume`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { databaseDir } from '@deltaflow/blockdb';
import { encodeMessage, Topic, type AnyMessage, type Location, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { PARTIAL_SUFFIX, safePathIn, Throttle } from '@deltaflow/core';
import { DsidRuleError, validateMerge, validateRestoreDelta, type Dsid } from '@deltaflow/dsid';
import { checkRestore, checkSameShape, loadInputs, mergeDataSets, readShadowStatus, regenerate, restoreDelta, unloadFile, type RestoreScope } from '@deltaflow/merge';
import { dataSetPath } from '@deltaflow/save-format';
import { Answers, Assignments, ClientFileReader, createKafka, EventPublisher, StreamOutput, TopicReader } from '@deltaflow/service-kit';
import { InputError, InputResolver, type ResolvedInput } from './inputs';

export interface MergeEngineConfig {
  readonly brokers: readonly string[];
  readonly dataDir: string;
  readonly groupId?: string;
  readonly clientId?: string;
  readonly databaseDir?: (dbid: number) => string;
  /** OperationProgress at most every this many bytes (default 8 MiB) */
  readonly progressEveryBytes?: number;
  /** how long a snapshot of the original DSIM may take to be answered (default 60 s) */
  readonly dsimTimeoutMs?: number;
  readonly fsync?: boolean;
  /** how often operations of owned databases are checked for an instance that is gone (default 10 s) */
  readonly reapEveryMs?: number;
  /** input bytes per second all operations of this engine read at most (MERGE_ENGINE_MAX_BYTES_PER_SEC); unlimited when absent */
  readonly maxBytesPerSec?: number;
  /** the catalog's URL: inputs `stream:S/F` are read by its placements (absent: refused) */
  readonly catalogUrl?: string;
  /** the volume library stream inputs are read from (default <dataDir>/tapes) */
  readonly volumeDir?: string;
  /** how long a merge to a stream waits for the multiplexer to open and close its client file (default 120 s) */
  readonly streamTimeoutMs?: number;
  readonly log?: (m: string) => void;
  readonly now?: () => number;
}

export const MERGE_ENGINE_CONFIG = Symbol('MERGE_ENGINE_CONFIG');

export type MergeEngineCommand = Extract<
  TopicMessage<'dsf.commands'>,
  { type: 'MergeRequested' | 'RestoreRequested' | 'ShadowInitRequested' | 'ShadowApplyRequested' | 'ShadowRegenerateRequested' | 'FileUnloadRequested' }
>;
const COMMANDS: ReadonlySet<string> = new Set(['MergeRequested', 'RestoreRequested', 'ShadowInitRequested', 'ShadowApplyRequested', 'ShadowRegenerateRequested', 'FileUnloadRequested']);
export const isMergeEngineCommand = (c: TopicMessage<'dsf.commands'>): c is MergeEngineCommand => COMMANDS.has(c.type);

/** Where restore targets, shadows and file unloads live under the data directory. */
export const targetDir = (dataDir: string, kind: 'restores' | 'shadows' | 'unloads', name: string): string => safePathIn(path.join(dataDir, kind), name, kind.slice(0, -1));

type EventsMessage = TopicMessage<'dsf.events'> | TopicMessage<'dsf.block-changes'> | TopicMessage<'dsf.nucleus-state'>;

/** A refusal before anything was written. */
class Rejection extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: { rule?: string; input?: string; field?: string } = {},
  ) {
    super(message);
  }
}

interface Job {
  readonly command: MergeEngineCommand;
  readonly inputs: readonly ResolvedInput[];
  run(progress: (done: number, total?: number) => Promise<void>, signal: AbortSignal): Promise<AnyMessage>;
}

@Injectable()
export class MergeEngineService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private publisher!: EventPublisher<AnyMessage>;
  private reader?: TopicReader<EventsMessage>;
  private readonly resolver: InputResolver;
  /** merge outputs to a stream: written straight into a client file */
  private readonly streams: StreamOutput;
  private readonly snapshots = new Answers<MessageOfType<'DsimSnapshotted'> | MessageOfType<'CommandRejected'>>();
  /** correlation ids with an outcome or a start on dsf.events */
  private readonly handled = new Set<string>();
  /** operations started and not finished, as the log says */
  private readonly unfinished = new Map<string, MessageOfType<'MergeStarted'> | MessageOfType<'RestoreStarted'> | MessageOfType<'OperationStarted'>>();
  /** operations this instance runs (accepted here, not finished) */
  private readonly mine = new Set<string>();
  /** the partition index of each database (co-partitioned: the same on every topic) */
  private readonly partitionOf = new Map<number, number>();
  private reapTimer?: NodeJS.Timeout;
  private reaping: Promise<void> = Promise.resolve();
  private readonly nucleus = new Map<number, { active: boolean; lsn: number }>();
  private queue: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  /** one rate for every operation of this engine (they run one after another) */
  private readonly throttle?: Throttle;
  private readonly log: (m: string) => void;
  private readonly now: () => number;

  constructor(
    @Inject(MERGE_ENGINE_CONFIG) private readonly config: MergeEngineConfig,
    private readonly assignments: Assignments,
  ) {
    if (config.maxBytesPerSec !== undefined) this.throttle = new Throttle(config.maxBytesPerSec);
    this.log = config.log ?? ((m: string) => console.log(`[merge-engine] ${m}`));
    this.now = config.now ?? Date.now;
    const streams = config.catalogUrl ? new ClientFileReader({ catalogUrl: config.catalogUrl, volumeDir: config.volumeDir ?? path.join(config.dataDir, 'tapes') }) : undefined;
    this.streams = new StreamOutput({ brokers: config.brokers, clientId: 'merge-engine-sov', dataDir: config.dataDir, timeoutMs: config.streamTimeoutMs ?? 120_000, log: this.log });
    this.resolver = new InputResolver(config.dataDir, { snapshot: (dbid, id, destination) => this.snapshot(dbid, id, destination) }, this.log, streams);
  }

  async onModuleInit(): Promise<void> {
    const clientId = this.config.clientId ?? 'merge-engine';
    this.publisher = new EventPublisher<AnyMessage>(this.config.brokers, clientId, (m) => encodeMessage(m));
    await this.publisher.connect();
    this.reader = new TopicReader<EventsMessage>({
      brokers: this.config.brokers,
      clientId,
      // only the nucleus state matters on dsf.block-changes (restores into the database need it stopped);
      // dsf.nucleus-state keeps it for the records the block-changes retention deleted
      topics: [Topic.dsfEvents, Topic.blockChanges, Topic.nucleusState],
      skipTypes: ['BlockChanged', 'UtilityChanged', 'EtSync', 'SaveProgress', 'OperationProgress'],
      onMessage: (m, at) => {
        if (at.topic === Topic.dsfEvents && 'dbid' in m && typeof m.dbid === 'number') this.partitionOf.set(m.dbid, at.partition);
        this.onLog(m);
      },
      log: this.log,
    });
    await this.reader.start();
    await this.reader.caughtUp;
    // operations of the databases this instance owns whose instance is gone are reported: when the
    // owned databases change (at start too) and every reapEveryMs (a member dying owning nothing
    // changes no assignment)
    this.assignments.listen(() => this.reportInterrupted());
    this.reapTimer = setInterval(() => void this.reportInterrupted().catch((e) => this.log(`checking for lost operations failed: ${(e as Error).message}`)), this.config.reapEveryMs ?? 10_000);
    this.reapTimer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.reapTimer);
    this.abort.abort();
    this.snapshots.close(new Error('the merge engine is stopping'));
    await this.queue.catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.stop();
    await this.streams.close();
    await this.publisher?.close();
  }

  private onLog(m: EventsMessage): void {
    this.resolver.noteLog(m);
    switch (m.type) {
      case 'NucleusState':
      case 'NucleusStateRecorded': {
        const prev = this.nucleus.get(m.dbid);
        if (prev === undefined || m.lsn >= prev.lsn) this.nucleus.set(m.dbid, { active: m.active, lsn: m.lsn });
        return;
      }
      case 'DsimSnapshotted':
        this.snapshots.answer(m.correlationId, m);
        return;
      case 'MergeStarted':
      case 'RestoreStarted':
      case 'OperationStarted':
        this.handled.add(m.correlationId);
        this.unfinished.set(m.correlationId, m);
        return;
      case 'CommandRejected':
        this.snapshots.answer(m.correlationId, m);
        this.finished(m.correlationId);
        return;
      case 'MergeCompleted':
      case 'RestoreCompleted':
      case 'RestoreInterrupted':
      case 'ShadowRegenerated':
      case 'FileUnloaded':
      case 'CommandFailed':
        this.finished(m.correlationId);
        return;
      default:
        return;
    }
  }

  private finished(correlationId: string): void {
    this.handled.add(correlationId);
    this.unfinished.delete(correlationId);
  }

  /**
   * Operations of owned databases whose instance is gone (killed, or this process before a restart)
   * are reported, never left hanging: a merge failed (its partial output removed), a restore
   * interrupted (resumable), a REGENERATE or unload failed (run it again).
   */
  private reportInterrupted(): Promise<void> {
    const run = this.reaping.then(async () => {
      if (!this.assignments.assigned) return;
      const owned = this.assignments.indices();
      let live: ReadonlySet<string> | undefined;
      for (const [cid, started] of [...this.unfinished]) {
        if (this.mine.has(cid)) continue;
        const partition = this.partitionOf.get(started.dbid);
        if (partition === undefined || !owned.has(partition)) continue;
        live ??= await this.assignments.liveInstances();
        if (started.instance !== undefined && live.has(started.instance)) continue; // still running there
        if (!this.unfinished.has(cid)) continue; // finished while the group was asked
        this.unfinished.delete(cid);
        const gone = `the merge engine running it${started.instance ? ` (${started.instance})` : ''} stopped`;
        if (started.type === 'MergeStarted') {
          if (started.output?.kind === 'directory') fs.rmSync(`${dataSetPath(this.config.dataDir, started.output.name)}${PARTIAL_SUFFIX}`, { force: true });
          if (started.output?.kind === 'stream') {
            const staged = this.streams.stagingFile('merge', cid);
            fs.rmSync(staged, { force: true });
            fs.rmSync(`${staged}${PARTIAL_SUFFIX}`, { force: true });
          }
          await this.publish({ type: 'CommandFailed', correlationId: cid, dbid: started.dbid, commandType: 'MergeRequested', code: 'ENGINE_RESTARTED', reason: `${gone} during this merge; nothing was left under the destination name: resubmit the merge`, occurredAt: this.now() });
        } else if (started.type === 'RestoreStarted') {
          await this.publish({
            type: 'RestoreInterrupted',
            correlationId: cid,
            dbid: started.dbid,
            target: started.target,
            code: 'ENGINE_RESTARTED',
            reason: `${gone} during this restore: resubmit it without the full save (dsf restore --resume ...) and it continues with the deltas; if the full save was not restored yet, repeat the whole restore`,
            occurredAt: this.now(),
          });
        } else {
          await this.publish({ type: 'CommandFailed', correlationId: cid, dbid: started.dbid, commandType: started.commandType, code: 'ENGINE_RESTARTED', reason: `${gone} during this operation: submit it again`, occurredAt: this.now() });
        }
      }
    });
    this.reaping = run.catch(() => undefined);
    return run;
  }

  private publish(...m: AnyMessage[]): Promise<void> {
    return this.publisher.publish(...m);
  }

  /** Asks the DSIM builder for a copy of the original DSIM and waits for its answer. */
  private async snapshot(dbid: number, correlationId: string, destination: string) {
    await this.publish({ type: 'DsimSnapshotRequested', correlationId, dbid, destination });
    const ms = this.config.dsimTimeoutMs ?? 60_000;
    return this.snapshots.wait(correlationId, ms, () => new InputError('DSIM_TIMEOUT', `the DSIM builder did not answer within ${ms} ms`, '@dsim'));
  }

  // -------------------------------------------------------------------------------------
  // Commands

  /** Accepts (or rejects) a command, then runs it in the background. Redeliveries change nothing. */
  async onCommand(c: MergeEngineCommand): Promise<void> {
    // a command redelivered after a move was perhaps accepted by the previous owner: see its events first
    await this.reader?.barrier();
    if (this.handled.has(c.correlationId)) {
      this.log(`${c.type} ${c.correlationId}: already handled, ignored`);
      return;
    }
    let job: Job;
    try {
      job = await this.accept(c);
    } catch (err) {
      await this.refuse(c, err);
      return;
    }
    this.handled.add(c.correlationId);
    this.mine.add(c.correlationId);
    const run = this.queue.then(() => this.execute(job)).finally(() => this.mine.delete(c.correlationId));
    this.queue = run.catch(() => undefined);
  }

  private async refuse(c: MergeEngineCommand, err: unknown): Promise<void> {
    const r = asRejection(err);
    if (r === null) throw err; // a fault, not a refusal: retried by the transport
    this.log(`${c.type} ${c.correlationId} rejected: ${r.code}: ${r.message}`);
    this.handled.add(c.correlationId);
    await this.publish({
      type: 'CommandRejected',
      correlationId: c.correlationId,
      dbid: c.dbid,
      commandType: c.type,
      code: r.code,
      reason: r.message.slice(0, 4000),
      ...(r.extra.rule ? { rule: r.extra.rule } : {}),
      ...(r.extra.input ? { input: r.extra.input.slice(0, 200) } : {}),
      ...(r.extra.field ? { field: r.extra.field } : {}),
      occurredAt: this.now(),
    });
  }

  private async execute(job: Job): Promise<void> {
    const c = job.command;
    const every = this.config.progressEveryBytes ?? 8 * 1024 * 1024;
    let reported = 0;
    const progress = async (done: number, total?: number) => {
      if (done - reported < every && done !== total) return;
      reported = done;
      await this.publish({ type: 'OperationProgress', correlationId: c.correlationId, dbid: c.dbid, bytesDone: done, ...(total !== undefined ? { bytesTotal: total } : {}), occurredAt: this.now() });
    };
    try {
      const outcome = await job.run(progress, this.abort.signal);
      // inputs staged for this operation are gone before its outcome is told (release is idempotent)
      for (const i of job.inputs) i.release();
      await this.publish(outcome);
      this.finished(c.correlationId);
      this.log(`${c.type} ${c.correlationId}: ${outcome.type}`);
    } catch (err) {
      if (this.abort.signal.aborted) return; // stopping: the next start reports it
      const r = asRejection(err);
      const code = r?.code ?? (typeof (err as { code?: unknown }).code === 'string' && /^[A-Z][A-Z0-9_]*$/.test((err as { code: string }).code) ? (err as { code: string }).code : 'INTERNAL');
      this.log(`${c.type} ${c.correlationId} failed: ${code}: ${(err as Error).message}`);
      await this.publish(
        c.type === 'RestoreRequested' || c.type === 'ShadowInitRequested' || c.type === 'ShadowApplyRequested'
          ? { type: 'RestoreInterrupted', correlationId: c.correlationId, dbid: c.dbid, target: 'target' in c ? c.target : c.shadow, code, reason: ((err as Error).message || code).slice(0, 4000), occurredAt: this.now() }
          : { type: 'CommandFailed', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, code, reason: ((err as Error).message || code).slice(0, 4000), occurredAt: this.now() },
      );
      this.finished(c.correlationId);
    } finally {
      for (const i of job.inputs) i.release();
    }
  }

  private accept(c: MergeEngineCommand): Promise<Job> {
    switch (c.type) {
      case 'MergeRequested':
        return this.acceptMerge(c);
      case 'RestoreRequested':
        return this.acceptRestore(c, c.target, { scope: c.scope, resume: c.resume, intoDatabase: c.intoDatabase, dsimWaitSec: c.dsimWaitSec });
      case 'ShadowInitRequested':
      case 'ShadowApplyRequested':
        return this.acceptRestore(c, c.shadow, { shadow: true });
      case 'ShadowRegenerateRequested':
        return this.acceptRegenerate(c);
      case 'FileUnloadRequested':
        return this.acceptUnload(c);
      default: {
        const never: never = c;
        throw new Error(`unexpected command ${JSON.stringify(never)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Merge

  private async acceptMerge(c: MessageOfType<'MergeRequested'>): Promise<Job> {
    const dest = c.output;
    // to a stream: written straight into one client file (named --dest, default the correlation id); a cascade's temporaries go under staging/
    const outName = dest.kind === 'directory' ? dest.name : (dest.name ?? c.correlationId);
    const output = dest.kind === 'directory' ? dataSetPath(this.config.dataDir, outName) : this.streams.stagingFile('merge', c.correlationId);
    if (dest.kind === 'directory' && fs.existsSync(output)) throw new Rejection('ALREADY_EXISTS', `data set ${outName} already exists`, { field: 'output' });
    if (dest.kind === 'stream') {
      fs.mkdirSync(path.dirname(output), { recursive: true });
      fs.rmSync(output, { force: true }); // a redelivered command's leftover
    }
    const inputs = await this.resolver.resolveAll(c.dbid, c.correlationId, c.inputs, c.dsimWaitSec ?? 0);
    try {
      const sets = await loadInputs(inputs.map((i) => i.path));
      const plan = validateMerge(sets.map((s) => s.descriptor));
      checkSameShape(sets, 'MERGE_INPUT_INVALID');
      this.checkDbid(c.dbid, sets[0].header.dbid);
      if (c.full && plan.outputKind !== 'full') throw new Rejection('FULL_REQUIRED', 'a full result was asked (--full) but no full save is among the inputs', { rule: 'FULL_REQUIRED' });
      await this.publish({ type: 'MergeStarted', correlationId: c.correlationId, dbid: c.dbid, dsid: plan.output, kind: plan.outputKind, inputs: [...c.inputs], output: dest.kind === 'directory' ? dest : { kind: 'stream', stream: dest.stream, clientFile: outName }, instance: this.assignments.instanceId, occurredAt: this.now() });
    } catch (e) {
      for (const i of inputs) i.release();
      throw withInputNames(e, inputs);
    }
    const original = inputs.find((i) => i.originalDsim !== undefined)?.originalDsim;
    return {
      command: c,
      inputs,
      run: async (progress, signal) => {
        // to a stream: the merged bytes go straight into the client file (output names it; cascade temporaries go there)
        const r = await mergeDataSets({
          inputs: inputs.map((i) => i.path),
          output,
          ...(dest.kind === 'stream' ? { sink: (h) => this.streams.open({ stream: dest.stream, name: outName }, { dbid: c.dbid, dsid: h.dsid, kind: 'merge', correlationId: c.correlationId }) } : {}),
          signal,
          throttle: this.throttle,
          writer: { fsync: this.config.fsync ?? true },
          onProgress: (p) => void progress(p.bytesDone, p.bytesTotal),
        });
        const location: Location = dest.kind === 'directory' ? { kind: 'directory', name: outName } : { kind: 'stream', stream: dest.stream, clientFile: outName };
        return {
          type: 'MergeCompleted',
          correlationId: c.correlationId,
          dbid: c.dbid,
          dsid: r.dsid,
          kind: r.kind,
          inputs: [...c.inputs],
          location,
          blocks: r.output.assoRecords + r.output.dataRecords,
          bytes: r.output.bytes,
          digest: r.output.digest,
          // seed: following the merge, the original DSIM is reset (the DSIM builder frees it)
          ...(r.usedOriginalDsim && original ? { releasedDsid: original } : {}),
          occurredAt: this.now(),
        };
      },
    };
  }

  private checkDbid(asked: number, found: number): void {
    if (asked !== found) throw new Rejection('WRONG_DATABASE', `the inputs belong to database ${found}, not ${asked}`, { rule: 'SAME_DBID' });
  }

  // -------------------------------------------------------------------------------------
  // Restore delta, shadow init and apply

  private async acceptRestore(
    c: MessageOfType<'RestoreRequested'> | MessageOfType<'ShadowInitRequested'> | MessageOfType<'ShadowApplyRequested'>,
    name: string,
    o: { scope?: RestoreScope; resume?: boolean; intoDatabase?: boolean; shadow?: boolean; dsimWaitSec?: number },
  ): Promise<Job> {
    const target = o.intoDatabase ? (this.config.databaseDir?.(c.dbid) ?? databaseDir(this.config.dataDir, c.dbid)) : targetDir(this.config.dataDir, o.shadow ? 'shadows' : 'restores', name);
    if (o.intoDatabase && this.nucleus.get(c.dbid)?.active !== false)
      throw new Rejection('NUCLEUS_ACTIVE', `a restore into database ${c.dbid} itself needs its nucleus stopped (NucleusState inactive)`, { field: 'intoDatabase' });
    const inputs = await this.resolver.resolveAll(c.dbid, c.correlationId, c.inputs, o.dsimWaitSec ?? 0);
    const request = { inputs: inputs.map((i) => i.path), target, shadow: !!o.shadow, ...(o.scope ? { scope: o.scope } : {}) };
    try {
      const sets = await loadInputs(request.inputs);
      this.checkDbid(c.dbid, sets[0].header.dbid);
      const hasFull = sets.some((s) => s.header.kind === 'full');
      if (c.type === 'ShadowInitRequested' && !hasFull) throw new Rejection('RESTORE_INPUT_INVALID', 'a shadow is initialised by restoring a full save: give one', { rule: 'FULL_REQUIRED' });
      if (c.type === 'ShadowApplyRequested' && hasFull) throw new Rejection('RESTORE_INPUT_INVALID', 'a shadow apply takes the next deltas only: a full save would start it over (use shadow init)', { rule: 'FULL_REQUIRED' });
      if (!hasFull && !o.shadow && !o.resume)
        throw new Rejection('RESTORE_INPUT_INVALID', 'no full save among the inputs: give one, or --resume to continue an interrupted restore', { rule: 'FULL_REQUIRED' });
      // every check the restore makes before it writes (DSID rules, target, shadow status, resume plan)
      const check = await checkRestore(request);
      await this.publish({ type: 'RestoreStarted', correlationId: c.correlationId, dbid: c.dbid, target: name, inputs: [...c.inputs], shadow: !!o.shadow, ...(check.resumed ? { resume: true } : {}), instance: this.assignments.instanceId, occurredAt: this.now() });
    } catch (e) {
      for (const i of inputs) i.release();
      throw withInputNames(e, inputs);
    }
    return {
      command: c,
      inputs,
      run: async (progress, signal) => {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        const r = await restoreDelta({
          ...request,
          signal,
          throttle: this.throttle,
          onProgress: (p) => void (p.bytesDone !== undefined ? progress(p.bytesDone, p.bytesTotal) : undefined),
        });
        return {
          type: 'RestoreCompleted',
          correlationId: c.correlationId,
          dbid: c.dbid,
          target: name,
          dsid: r.dsid,
          shadow: !!o.shadow,
          blocks: r.blocksWritten,
          digest: r.digest,
          // the database itself went back to the status of r.dsid: its next saves start a new lineage,
          // and its next delta holds every block the restore wrote
          ...(o.intoDatabase ? { intoDatabase: true, ranges: [...r.ranges] } : {}),
          occurredAt: this.now(),
        };
      },
    };
  }

  // -------------------------------------------------------------------------------------
  // REGENERATE

  private async acceptRegenerate(c: MessageOfType<'ShadowRegenerateRequested'>): Promise<Job> {
    const target = targetDir(this.config.dataDir, 'shadows', c.shadow);
    const status = readShadowStatus(target);
    if (!status || !status.shadow) throw new Rejection('RESTORE_INPUT_INVALID', `shadow ${c.shadow} is not initialised`);
    if (c.toLsn !== undefined && c.toLsn < status.lsn) throw new Rejection('VALIDATION', `the shadow stands at LSN ${status.lsn}, past --to-lsn ${c.toLsn}`, { field: 'toLsn' });
    const fromLsn = status.lsn;
    await this.publish({ type: 'OperationStarted', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, instance: this.assignments.instanceId, occurredAt: this.now() });
    return {
      command: c,
      inputs: [],
      run: async () => {
        // the PLOG since the shadow's LSN: the last image per block, applied in LSN order
        const last = new Map<string, { area: 'ASSO' | 'DATA'; rabn: number; lsn: number; image: Uint8Array }>();
        // the PLOG retention (DSIM builder) may have cut dsf.plog: a partition that no longer
        // starts at 0 must show a sync point at or below the shadow's LSN before any image after it
        const truncated = await this.plogLogStarts();
        let base = false;
        let gap: { partition: number; lsn: number } | undefined;
        const reader = new TopicReader<TopicMessage<'dsf.plog'>>({
          brokers: this.config.brokers,
          clientId: 'merge-engine-regenerate',
          topics: [Topic.plog],
          until: 'end',
          onMessage: (p, at) => {
            if (p.dbid !== c.dbid) return;
            if (p.type === 'PlogSync' && p.lsn <= fromLsn) base = true;
            if (p.type === 'PlogImage' && p.lsn > fromLsn && !base && !gap && (truncated.get(at.partition) ?? 0) > 0) gap = { partition: at.partition, lsn: p.lsn };
            if (p.type !== 'PlogImage' || p.lsn <= fromLsn || (c.toLsn !== undefined && p.lsn > c.toLsn)) return;
            const key = `${p.area}:${p.rabn}`;
            const seen = last.get(key);
            if (!seen || seen.lsn < p.lsn) last.set(key, { area: p.area, rabn: p.rabn, lsn: p.lsn, image: p.image });
          },
          log: this.log,
        });
        try {
          await reader.start();
          await reader.caughtUp;
        } finally {
          await reader.stop();
        }
        if (gap) {
          throw new Rejection(
            'PLOG_TRUNCATED',
            `the PLOG kept on ${Topic.plog}[${gap.partition}] starts after the shadow's LSN ${fromLsn} (its first image of database ${c.dbid} is at LSN ${gap.lsn}): apply a newer delta to the shadow first (DSIM_BUILDER_PLOG_KEEP_SAVES keeps the PLOG since the last saves)`,
          );
        }
        const images = [...last.values()].sort((a, b) => a.lsn - b.lsn);
        const r = await regenerate({ target, images: iterate(images), ...(c.toLsn !== undefined ? { toLsn: c.toLsn } : {}) });
        return { type: 'ShadowRegenerated', correlationId: c.correlationId, dbid: c.dbid, shadow: c.shadow, fromLsn: r.fromLsn, toLsn: r.toLsn, blocks: r.blocks, digest: r.digest, occurredAt: this.now() };
      },
    };
  }

  /** The first offset dsf.plog keeps, per partition (0: never truncated). */
  private async plogLogStarts(): Promise<Map<number, number>> {
    const admin = createKafka({ clientId: 'merge-engine-regenerate', brokers: this.config.brokers }).admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(Topic.plog)).map((p) => [p.partition, Number(p.low)]));
    } finally {
      await admin.disconnect();
    }
  }

  // -------------------------------------------------------------------------------------
  // ADAULD

  private async acceptUnload(c: MessageOfType<'FileUnloadRequested'>): Promise<Job> {
    const out = targetDir(this.config.dataDir, 'unloads', c.out);
    if (fs.existsSync(out)) throw new Rejection('ALREADY_EXISTS', `unload ${c.out} already exists`, { field: 'out' });
    const inputs = await this.resolver.resolveAll(c.dbid, c.correlationId, c.inputs, c.dsimWaitSec ?? 0);
    try {
      const sets = await loadInputs(inputs.map((i) => i.path));
      checkSameShape(sets, 'RESTORE_INPUT_INVALID');
      this.checkDbid(c.dbid, sets[0].header.dbid);
      if (!sets[0].header.geometry.files.some((f) => f.file === c.file)) throw new Rejection('VALIDATION', `database ${c.dbid} has no file ${c.file}`, { field: 'file' });
      validateRestoreDelta(sets.map((s) => s.descriptor), { shadow: false });
      await this.publish({ type: 'OperationStarted', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, instance: this.assignments.instanceId, occurredAt: this.now() });
    } catch (e) {
      for (const i of inputs) i.release();
      throw withInputNames(e, inputs);
    }
    return {
      command: c,
      inputs,
      run: async (_progress, signal) => {
        fs.mkdirSync(path.dirname(out), { recursive: true });
        const r = await unloadFile({ inputs: inputs.map((i) => i.path), file: c.file, out, signal, throttle: this.throttle });
        return { type: 'FileUnloaded', correlationId: c.correlationId, dbid: c.dbid, file: c.file, dsid: r.dsid, location: { kind: 'directory', name: c.out }, blocks: r.blocks, bytes: r.bytes, occurredAt: this.now() };
      },
    };
  }
}

async function* iterate<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

/** The rejection an error stands for (a rule, bad input), or null for a fault. */
function asRejection(err: unknown): Rejection | null {
  if (err instanceof Rejection) return err;
  if (err instanceof DsidRuleError) return new Rejection(err.code, err.message, { rule: err.rule, ...(err.inputs[0] ? { input: err.inputs[0] } : {}) });
  if (err instanceof InputError) return new Rejection(err.code, err.message, err.input ? { input: err.input } : {});
  const code = (err as { code?: unknown; retriable?: unknown }).code;
  // the libraries' coded errors about the inputs (MERGE_INPUT_INVALID, CORRUPT_DATA, ...) are refusals
  if (typeof code === 'string' && (err as { retriable?: unknown }).retriable === false && /^[A-Z][A-Z0-9_]*$/.test(code)) {
    const inputs = (err as { inputs?: unknown }).inputs;
    const rule = (err as { rule?: unknown }).rule;
    return new Rejection(code, (err as Error).message, {
      ...(Array.isArray(inputs) && typeof inputs[0] === 'string' ? { input: inputs[0] } : {}),
      ...(typeof rule === 'string' ? { rule } : {}),
    });
  }
  return null;
}

/** Error messages name inputs by the names the operator gave, not by file paths. */
function withInputNames(err: unknown, inputs: readonly ResolvedInput[]): unknown {
  if (!(err instanceof Error)) return err;
  for (const i of inputs) {
    err.message = err.message.split(i.path).join(i.ref);
    const list = (err as { inputs?: unknown }).inputs;
    if (Array.isArray(list)) for (let k = 0; k < list.length; k++) if (list[k] === i.path) list[k] = i.ref;
  }
  return err;
}

export type { Dsid };
