import type { Decider } from '@deltaflow/core';
import { decide as decideDsid, evolve as evolveDsid, type Dsid, type DsidChainState, initialState as initialDsidChain, type SaveKind } from '@deltaflow/dsid';
import { SaveChainError, SaveChainErrorCode } from './errors';

/*
 * The save lifecycle of one database as a decider. A save request is checked against the
 * seed's rules (offline only with the nucleus inactive, online only with the nucleus active
 * free, a delta only after a full save, one save at a time), then the save starts at its
 * start sync with a DSID, progresses, and completes or fails.
 *
 * The DSID is assigned when the save starts (SaveStarted carries it), but the DSID chain
 * only advances when the save completes: a failed save consumes no number (its DLOG capture
 * returns to the next delta), though its time stamp is never reused.
 *
 * Every correlation id is handled once: a redelivered command decides nothing.
 */


export interface RunningSave {
  readonly correlationId: string;
  readonly kind: SaveKind;
  readonly online: boolean;
  /** set once the save started (at its start sync for an online save) */
  readonly dsid: Dsid | null;
  readonly startLsn: number | null;
  readonly blocksWritten: number;
}

export interface SaveLifecycleState {
  readonly nucleusActive: boolean;
  readonly chain: DsidChainState;
  readonly running: RunningSave | null;
  /** correlation ids already decided (accepted or rejected) */
  readonly handled: ReadonlySet<string>;
}

export type SaveCommand =
  | { readonly type: 'RequestSave'; readonly correlationId: string; readonly kind: SaveKind; readonly online: boolean }
  /** the save's start point: the start sync LSN of an online save; for an offline save the LSN at which the nucleus became inactive, if known */
  | { readonly type: 'StartSave'; readonly correlationId: string; readonly startLsn: number | null; readonly now: number }
  | { readonly type: 'RecordProgress'; readonly correlationId: string; readonly blocksWritten: number; readonly blocksTotal: number | null }
  | { readonly type: 'CompleteSave'; readonly correlationId: string; readonly endLsn: number | null; readonly blocks: number }
  | { readonly type: 'FailSave'; readonly correlationId: string; readonly code: string; readonly reason: string }
  | { readonly type: 'RecordNucleusState'; readonly active: boolean }
  /** the database itself was restored to the status of `restored`: its next saves continue from there, on a new lineage */
  | { readonly type: 'RecordRestore'; readonly restored: Dsid };

export type SaveEvent =
  | { readonly type: 'SaveAccepted'; readonly correlationId: string; readonly kind: SaveKind; readonly online: boolean }
  | { readonly type: 'SaveRejected'; readonly correlationId: string; readonly code: SaveChainErrorCode; readonly reason: string }
  | {
      readonly type: 'SaveStarted';
      readonly correlationId: string;
      readonly dsid: Dsid;
      readonly kind: SaveKind;
      readonly online: boolean;
      readonly startLsn: number | null;
    }
  | { readonly type: 'SaveProgressed'; readonly correlationId: string; readonly blocksWritten: number; readonly blocksTotal: number | null }
  | { readonly type: 'SaveCompleted'; readonly correlationId: string; readonly dsid: Dsid; readonly endLsn: number | null; readonly blocks: number }
  | { readonly type: 'SaveFailed'; readonly correlationId: string; readonly dsid: Dsid | null; readonly code: string; readonly reason: string }
  | { readonly type: 'NucleusStateRecorded'; readonly active: boolean }
  | { readonly type: 'RestoreRecorded'; readonly restored: Dsid; readonly lineage: string; readonly branch: number | null };

/** A database never saved, nucleus assumed inactive until told otherwise. */
export function initialState(): SaveLifecycleState {
  return { nucleusActive: false, chain: initialDsidChain(), running: null, handled: new Set() };
}

function running(state: SaveLifecycleState, correlationId: string): RunningSave {
  const r = state.running;
  if (r === null || r.correlationId !== correlationId)
    throw new SaveChainError('ILLEGAL_STATE', `no running save with correlation id ${correlationId}`);
  return r;
}

const reject = (correlationId: string, code: SaveChainErrorCode, reason: string): SaveEvent[] => [
  { type: 'SaveRejected', correlationId, code, reason },
];

/** Why a save request would be refused now, or null when it may start. */
export function whyRefused(
  state: SaveLifecycleState,
  request: { readonly kind: SaveKind; readonly online: boolean },
): { code: SaveChainErrorCode; reason: string } | null {
  if (state.running !== null)
    return { code: 'SAVE_IN_PROGRESS', reason: `save ${state.running.correlationId} is still running for this database` };
  if (!request.online && state.nucleusActive)
    return { code: 'NUCLEUS_ACTIVE', reason: 'an offline save needs the nucleus inactive, but it is active (stop it or save online)' };
  if (request.online && !state.nucleusActive)
    return { code: 'NUCLEUS_INACTIVE', reason: 'an online save needs the nucleus active to take sync points; it is inactive (save offline)' };
  if (request.kind === 'delta' && state.chain.current === null)
    return { code: 'NO_FULL_SAVE', reason: 'a delta save needs a prior full save of this database' };
  return null;
}


/** Decides the events of one command; throws SaveChainError for commands that contradict the state. */
export function decide(command: SaveCommand, state: SaveLifecycleState): SaveEvent[] {
  switch (command.type) {
    case 'RequestSave': {
      if (state.handled.has(command.correlationId)) return [];
      if (command.kind !== 'full' && command.kind !== 'delta')
        return reject(command.correlationId, 'VALIDATION', `kind must be full or delta, got ${String(command.kind)}`);
      const refused = whyRefused(state, command);
      if (refused) return reject(command.correlationId, refused.code, refused.reason);
      return [{ type: 'SaveAccepted', correlationId: command.correlationId, kind: command.kind, online: command.online }];
    }
    case 'StartSave': {
      const r = running(state, command.correlationId);
      if (r.dsid !== null) return [];
      if (r.online && command.startLsn === null)
        throw new SaveChainError('VALIDATION', 'an online save starts at a start sync LSN');
      const [assigned] = decideDsid({ type: r.kind === 'full' ? 'AssignFullSave' : 'AssignDeltaSave' }, state.chain, command.now);
      if (assigned.type !== 'FullSaveAssigned' && assigned.type !== 'DeltaSaveAssigned')
        throw new SaveChainError('ILLEGAL_STATE', `unexpected DSID decision ${assigned.type}`);
      return [
        {
          type: 'SaveStarted',
          correlationId: r.correlationId,
          dsid: assigned.dsid,
          kind: r.kind,
          online: r.online,
          startLsn: command.startLsn,
        },
      ];
    }
    case 'RecordProgress': {
      const r = running(state, command.correlationId);
      if (r.dsid === null) throw new SaveChainError('ILLEGAL_STATE', `save ${r.correlationId} has not started`);
      if (command.blocksWritten < r.blocksWritten) return [];
      return [{ type: 'SaveProgressed', correlationId: r.correlationId, blocksWritten: command.blocksWritten, blocksTotal: command.blocksTotal }];
    }
    case 'CompleteSave': {
      const r = running(state, command.correlationId);
      if (r.dsid === null) throw new SaveChainError('ILLEGAL_STATE', `save ${r.correlationId} has not started`);
      if (r.online && (command.endLsn === null || r.startLsn === null || command.endLsn < r.startLsn))
        throw new SaveChainError('VALIDATION', `an online save ends at an end sync LSN ≥ its start ${r.startLsn}`);
      return [
        { type: 'SaveCompleted', correlationId: r.correlationId, dsid: r.dsid, endLsn: r.online ? command.endLsn : null, blocks: command.blocks },
      ];
    }
    case 'FailSave': {
      if (state.running === null || state.running.correlationId !== command.correlationId) return [];
      return [{ type: 'SaveFailed', correlationId: command.correlationId, dsid: state.running.dsid, code: command.code, reason: command.reason }];
    }
    case 'RecordNucleusState':
      return state.nucleusActive === command.active ? [] : [{ type: 'NucleusStateRecorded', active: command.active }];
    case 'RecordRestore': {
      if (state.running !== null) throw new SaveChainError('ILLEGAL_STATE', `save ${state.running.correlationId} is running: a restore into the database needs it stopped`);
      const [e] = decideDsid({ type: 'RecordRestore', restored: command.restored }, state.chain, 0);
      if (e.type !== 'RestoreRecorded') throw new SaveChainError('ILLEGAL_STATE', `unexpected DSID decision ${e.type}`);
      return [e];
    }
    default: {
      const never: never = command;
      throw new SaveChainError('VALIDATION', `unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** Applies one event. */
export function evolve(state: SaveLifecycleState, event: SaveEvent): SaveLifecycleState {
  switch (event.type) {
    case 'SaveAccepted':
      return {
        ...state,
        handled: new Set(state.handled).add(event.correlationId),
        running: { correlationId: event.correlationId, kind: event.kind, online: event.online, dsid: null, startLsn: null, blocksWritten: 0 },
      };
    case 'SaveRejected':
      return { ...state, handled: new Set(state.handled).add(event.correlationId) };
    case 'SaveStarted': {
      const r = state.running;
      if (r === null || r.correlationId !== event.correlationId) return state;
      return {
        ...state,
        running: { ...r, dsid: event.dsid, startLsn: event.startLsn },
      };
    }
    case 'SaveProgressed': {
      const r = state.running;
      if (r === null || r.correlationId !== event.correlationId) return state;
      return { ...state, running: { ...r, blocksWritten: Math.max(r.blocksWritten, event.blocksWritten) } };
    }
    case 'SaveCompleted':
      return {
        ...state,
        running: null,
        chain: {
          ...state.chain,
          current: event.dsid,
          lineage: event.dsid.lineage,
          lastTimestamp: Math.max(state.chain.lastTimestamp ?? 0, event.dsid.timestamp),
        },
      };
    case 'SaveFailed': {
      return {
        ...state,
        running: null,
        // its time stamp is never reused
        chain:
          event.dsid === null
            ? state.chain
            : { ...state.chain, lastTimestamp: Math.max(state.chain.lastTimestamp ?? 0, event.dsid.timestamp) },
      };
    }
    case 'NucleusStateRecorded':
      return { ...state, nucleusActive: event.active };
    case 'RestoreRecorded':
      return { ...state, chain: evolveDsid(state.chain, event) };
    default: {
      const never: never = event;
      throw new SaveChainError('VALIDATION', `unknown event ${JSON.stringify(never)}`);
    }
  }
}

/** Folds events onto a state. */
export function fold(events: readonly SaveEvent[], state: SaveLifecycleState = initialState()): SaveLifecycleState {
  return events.reduce(evolve, state);
}

/** The save lifecycle decider as one value. */
export const saveLifecycleDecider: Decider<SaveCommand, SaveEvent, SaveLifecycleState> = { decide, evolve, initialState };
