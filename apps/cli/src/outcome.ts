/**
 * The one place that says what an event on dsf.events means to the operator: a progress step
 * (a line, and a count for the progress bar) or the command's outcome, as text and as the JSON
 * object `--json` prints. Exit codes: 0 done, 1 refused or failed, 3 no outcome in time.
 *
 * Every JSON outcome has `ok`, `command` (the dsf words, e.g. "shadow apply"), `correlationId`,
 * `event` (the event's type) and `dbid`; DSIDs are in their text form (formatDsid).
 */
import type { Location, TopicMessage } from '@deltaflow/contracts';
import { formatDsid } from '@deltaflow/dsid';

export type DsfEvent = TopicMessage<'dsf.events'>;
export type DsfCommand = TopicMessage<'dsf.commands'>;
export type Json = Record<string, unknown>;

export interface Outcome {
  readonly exitCode: 0 | 1 | 2 | 3;
  /** for the operator: stdout when the exit code is 0, stderr otherwise */
  readonly lines: readonly string[];
  /** what --json prints */
  readonly json: Json;
}

export interface Progress {
  /** a line for the log (printed above the bar on a terminal) */
  readonly line?: string;
  /** a step of the bar */
  readonly step?: { readonly done: number; readonly total?: number; readonly unit: 'blocks' | 'bytes' };
}

/** The dsf words of a command type, as they appear in messages: `merge rejected: ...`. */
export const COMMAND_WORDS: Readonly<Record<DsfCommand['type'], string>> = {
  SaveRequested: 'save',
  MergeRequested: 'merge',
  RestoreRequested: 'restore',
  DsimUnloadRequested: 'dsim unload',
  DsimResetRequested: 'dsim reset',
  DsimPrintRequested: 'dsim print',
  DsimSnapshotRequested: 'dsim snapshot',
  ShadowInitRequested: 'shadow init',
  ShadowApplyRequested: 'shadow apply',
  ShadowRegenerateRequested: 'shadow regenerate',
  FileUnloadRequested: 'unload',
  ScheduleDefineRequested: 'schedule define',
  ScheduleRemoveRequested: 'schedule remove',
  RetentionSetRequested: 'retention set',
  DataSetExpireRequested: 'expire',
};

/** The service that answers a command, named when no outcome comes. */
export const ANSWERED_BY: Readonly<Record<DsfCommand['type'], string>> = {
  SaveRequested: 'the save writer',
  MergeRequested: 'the merge engine',
  RestoreRequested: 'the merge engine',
  DsimUnloadRequested: 'the DSIM builder',
  DsimResetRequested: 'the DSIM builder',
  DsimPrintRequested: 'the DSIM builder',
  DsimSnapshotRequested: 'the DSIM builder',
  ShadowInitRequested: 'the merge engine',
  ShadowApplyRequested: 'the merge engine',
  ShadowRegenerateRequested: 'the merge engine',
  FileUnloadRequested: 'the merge engine',
  ScheduleDefineRequested: 'the scheduler',
  ScheduleRemoveRequested: 'the scheduler',
  RetentionSetRequested: 'the save writer',
  DataSetExpireRequested: 'the save writer',
};

const wordsOf = (commandType: string) => COMMAND_WORDS[commandType as DsfCommand['type']] ?? commandType;
const where = (l: Location) => (l.kind === 'directory' ? l.name : `stream ${l.stream}, client file ${l.clientFile}`);
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function base(e: DsfEvent & { correlationId: string }, commandType: string, ok: boolean): Json {
  return { ok, command: wordsOf(commandType), correlationId: e.correlationId, event: e.type, dbid: e.dbid };
}

function done(json: Json, ...lines: string[]): Outcome {
  return { exitCode: 0, lines, json };
}

function refused(json: Json, ...lines: string[]): Outcome {
  return { exitCode: 1, lines, json };
}

/**
 * The outcome an event ends its command with, or undefined when it does not end one.
 * `commandType` is the type of the command that was sent (CommandRejected and CommandFailed
 * name their own).
 */
export function outcomeOf(e: DsfEvent, commandType: DsfCommand['type']): Outcome | undefined {
  switch (e.type) {
    case 'SaveCompleted':
      return done(
        { ...base(e, 'SaveRequested', true), dsid: formatDsid(e.dsid), kind: e.kind, online: e.online, ...lsns(e), location: e.location, blocks: e.blocks, bytes: e.bytes, digest: e.digest },
        `save completed: DSID ${formatDsid(e.dsid)}, ${e.blocks} blocks, ${e.bytes} bytes in ${where(e.location)}${e.endLsn !== undefined ? `, end sync LSN ${e.endLsn}` : ''}`,
      );
    case 'SaveFailed':
      return refused({ ...base(e, 'SaveRequested', false), code: e.code, reason: e.reason, ...(e.dsid ? { dsid: formatDsid(e.dsid) } : {}) }, `save failed: ${e.code}: ${e.reason}`);
    case 'DsimUnloaded':
      return done(
        { ...base(e, 'DsimUnloadRequested', true), dsid: formatDsid(e.dsid), location: e.location, blocks: e.blocks, digest: e.digest },
        `DSIM of ${formatDsid(e.dsid)} unloaded: ${e.blocks} blocks in ${where(e.location)}`,
      );
    case 'DsimReset':
      return done({ ...base(e, 'DsimResetRequested', true), dsid: e.dsid ? formatDsid(e.dsid) : null }, `DSIM reset${e.dsid ? ` (was ${formatDsid(e.dsid)})` : ' (it was free)'}`);
    case 'DsimSnapshotted':
      return done(
        { ...base(e, 'DsimSnapshotRequested', true), dsid: formatDsid(e.dsid), location: e.location, blocks: e.blocks, digest: e.digest },
        `DSIM of ${formatDsid(e.dsid)} copied: ${e.blocks} blocks in ${where(e.location)} (the DSIM stays in use)`,
      );
    case 'MergeCompleted': {
      const released = e.releasedDsid ? formatDsid(e.releasedDsid) : undefined;
      return done(
        {
          ...base(e, 'MergeRequested', true),
          dsid: formatDsid(e.dsid),
          kind: e.kind,
          inputs: e.inputs,
          location: e.location,
          blocks: e.blocks,
          ...(e.bytes !== undefined ? { bytes: e.bytes } : {}),
          digest: e.digest,
          ...(released ? { releasedDsid: released } : {}),
        },
        `merge completed: DSID ${formatDsid(e.dsid)} (${e.kind}), ${e.blocks} blocks${e.bytes !== undefined ? `, ${e.bytes} bytes` : ''} in ${where(e.location)}`,
        ...(released ? [`  the original DSIM of ${released} was merged and is free`] : []),
      );
    }
    case 'RestoreCompleted': {
      // shadow init and apply end with a RestoreCompleted too (shadow: true)
      const words = e.shadow ? commandType : 'RestoreRequested';
      const what = e.shadow ? `shadow ${e.target} at DSID ${formatDsid(e.dsid)}` : `restore completed: DSID ${formatDsid(e.dsid)} into ${e.intoDatabase ? `database ${e.dbid}` : e.target}`;
      return done(
        {
          ...base(e, words, true),
          target: e.target,
          dsid: formatDsid(e.dsid),
          shadow: e.shadow ?? false,
          blocks: e.blocks,
          digest: e.digest ?? null,
          ...(e.lineage !== undefined ? { lineage: e.lineage } : {}),
          ...(e.intoDatabase ? { intoDatabase: true } : {}),
          ...(e.ranges !== undefined ? { ranges: e.ranges.length } : {}),
        },
        `${what}: ${e.blocks} blocks${e.digest ? `, digest ${e.digest}` : ''}${e.intoDatabase && e.lineage ? `; the database continues on lineage ${e.lineage}` : ''}`,
      );
    }
    case 'RestoreInterrupted':
      return refused(
        { ...base(e, commandType, false), target: e.target, code: e.code, reason: e.reason, ...(e.resumeFrom !== undefined ? { resumeFrom: e.resumeFrom } : {}) },
        `${wordsOf(commandType)} interrupted: ${e.code}: ${e.reason}`,
        `  the same command with --resume (and without the full save) continues it${e.resumeFrom !== undefined ? ` from input #${e.resumeFrom + 1}` : ''}`,
      );
    case 'ShadowRegenerated':
      return done(
        { ...base(e, 'ShadowRegenerateRequested', true), shadow: e.shadow, fromLsn: e.fromLsn, toLsn: e.toLsn, blocks: e.blocks, digest: e.digest },
        `shadow ${e.shadow} regenerated: LSN ${e.fromLsn}..${e.toLsn}, ${e.blocks} blocks, digest ${e.digest}`,
      );
    case 'FileUnloaded':
      return done(
        { ...base(e, 'FileUnloadRequested', true), file: e.file, dsid: formatDsid(e.dsid), location: e.location, blocks: e.blocks, bytes: e.bytes },
        `file ${e.file} unloaded as of DSID ${formatDsid(e.dsid)}: ${e.blocks} blocks, ${e.bytes} bytes in ${where(e.location)}`,
      );
    case 'ScheduleDefined':
      return done(
        { ...base(e, 'ScheduleDefineRequested', true), scheduleId: e.scheduleId, deltaEveryMs: e.deltaEveryMs, cycleMs: e.cycleMs, startAt: e.startAt },
        `schedule ${e.scheduleId} defined for database ${e.dbid}: a full save at ${new Date(e.startAt).toISOString()}, a delta every ${e.deltaEveryMs / 1000} s, a cycle of ${e.cycleMs / 1000} s`,
        `  its data sets are named ${e.scheduleId}.c<cycle>.full, .full.dsim, .d<day>, .cd<day>; see its runs with dsf schedule list --dbid ${e.dbid}`,
      );
    case 'ScheduleRemoved':
      return done({ ...base(e, 'ScheduleRemoveRequested', true), scheduleId: e.scheduleId }, `schedule ${e.scheduleId} of database ${e.dbid} removed: no further step is sent`);
    case 'RetentionSet': {
      const keeps = [e.keepSaves !== undefined ? `the last ${e.keepSaves} saves` : '', e.keepDays !== undefined ? `saves younger than ${e.keepDays} days` : ''].filter(Boolean).join(' and ');
      return done(
        { ...base(e, 'RetentionSetRequested', true), ...(e.keepSaves !== undefined ? { keepSaves: e.keepSaves } : {}), ...(e.keepDays !== undefined ? { keepDays: e.keepDays } : {}) },
        keeps ? `retention of database ${e.dbid} set: keeps ${keeps} (and every save a kept one needs); dsf expire applies it` : `retention of database ${e.dbid} cleared: the configured default applies`,
      );
    }
    case 'DataSetExpired':
      return done({ ...base(e, 'DataSetExpireRequested', true), save: e.save, dsid: formatDsid(e.dsid), names: e.names, reason: e.reason }, `data sets of save ${e.save} expired: ${e.names.join(', ')}`);
    case 'CommandRejected': {
      const why = [e.input !== undefined ? `input ${e.input}` : '', e.field !== undefined ? `field ${e.field}` : '', e.rule !== undefined ? `code ${e.code}` : ''].filter(Boolean).join(', ');
      return refused(
        { ...base(e, e.commandType, false), code: e.code, rule: e.rule ?? null, reason: e.reason, ...(e.input !== undefined ? { input: e.input } : {}), ...(e.field !== undefined ? { field: e.field } : {}) },
        `${wordsOf(e.commandType)} rejected: ${e.rule ?? e.code}: ${e.reason}${why ? ` (${why})` : ''}`,
      );
    }
    case 'CommandFailed':
      return refused({ ...base(e, e.commandType, false), code: e.code, reason: e.reason }, `${wordsOf(e.commandType)} failed: ${e.code}: ${e.reason}`);
    default:
      return undefined;
  }
}

function lsns(e: { startLsn?: number; endLsn?: number }): Json {
  return { ...(e.startLsn !== undefined ? { startLsn: e.startLsn } : {}), ...(e.endLsn !== undefined ? { endLsn: e.endLsn } : {}) };
}

/** What a non-final event of the command tells on the way (undefined: nothing). */
export function progressOf(e: DsfEvent): Progress | undefined {
  switch (e.type) {
    case 'SaveStarted':
      return { line: `save started: DSID ${formatDsid(e.dsid)}${e.startLsn !== undefined ? ` at sync LSN ${e.startLsn}` : ''}` };
    case 'SaveProgress':
      return {
        line: `  ${e.blocksWritten}${e.blocksTotal !== undefined ? `/${e.blocksTotal}` : ''} blocks written`,
        step: { done: e.blocksWritten, ...(e.blocksTotal !== undefined ? { total: e.blocksTotal } : {}), unit: 'blocks' },
      };
    case 'DsimAcquired':
      return { line: `  the DSIM collects the blocks changed from sync LSN ${e.startLsn}` };
    case 'DsimCompleted':
      return { line: `  DSIM complete: LSN ${e.startLsn}..${e.endLsn}, ${e.blocks} blocks` };
    case 'DsimRejected':
      return { line: `  DSIM refused: ${e.code}: ${e.reason}` };
    case 'DsimReleased':
      return { line: `  the original DSIM of ${formatDsid(e.dsid)} is free` };
    case 'MergeStarted':
      return { line: `merge started: DSID ${formatDsid(e.dsid)} (${e.kind}) from ${e.inputs.length} input${e.inputs.length === 1 ? '' : 's'}: ${e.inputs.join(' ')}` };
    case 'RestoreStarted':
      return {
        line: `${e.shadow ? `shadow ${e.target}` : `restore into ${e.target}`} started from ${e.inputs.length} input${e.inputs.length === 1 ? '' : 's'}${e.resume ? ' (resuming)' : ''}: ${e.inputs.join(' ')}`,
      };
    case 'OperationStarted':
      return { line: `${wordsOf(e.commandType)} started` };
    case 'OperationProgress':
      return {
        line: `  ${mib(e.bytesDone)}${e.bytesTotal !== undefined ? ` of ${mib(e.bytesTotal)}` : ''}`,
        step: { done: e.bytesDone, ...(e.bytesTotal !== undefined ? { total: e.bytesTotal } : {}), unit: 'bytes' },
      };
    default:
      return undefined;
  }
}

/** No outcome within the timeout: exit 3. */
export function noOutcome(message: DsfCommand, timeoutSec: number): Outcome {
  return {
    exitCode: 3,
    lines: [`no outcome within ${timeoutSec} s (is ${ANSWERED_BY[message.type]} running?)`],
    json: { ok: false, command: COMMAND_WORDS[message.type], correlationId: message.correlationId, code: 'NO_OUTCOME', error: `no outcome within ${timeoutSec} s`, timeoutSec },
  };
}

/** A command that has no outcome event (dsim print): done once the broker has it. */
export function sent(message: DsfCommand, line: string): Outcome {
  return { exitCode: 0, lines: [line], json: { ok: true, command: COMMAND_WORDS[message.type], correlationId: message.correlationId, sent: message.type, dbid: message.dbid } };
}

/** Infrastructure trouble (Kafka or the catalog unreachable, no endpoints): exit 3. */
export function trouble(error: string, extra: Json = {}): Outcome {
  return { exitCode: 3, lines: [error], json: { ok: false, code: 'INFRASTRUCTURE', error, ...extra } };
}

/** Bad arguments: exit 2. */
export function usage(error: string): Outcome {
  return { exitCode: 2, lines: [error], json: { ok: false, code: 'USAGE', error } };
}
