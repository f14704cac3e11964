import { Dsid } from './dsid';
import { DsidParseError, DsidStateError } from './errors';
import { assertValidDsid, formatDsid } from './format';
import { forkLineage, isOnHistoryOf, rootLineage } from './lineage';

/*
 * The DSID chain of one database as a decider: which DSID the next full or delta save gets, and
 * which lineage branch a restore starts. The save writer decides at save completion (a failed
 * save consumes no number, as the DLOG is returned to the next delta).
 *
 * Time stamps strictly ascend across the whole chain, restores included, so that time stamps are
 * never reused: if `now` is not after the last assigned time stamp (clock step back, two saves in
 * one ms) the save gets last + 1 ms rather than being refused — a backup must not fail over a
 * clock wobble, and the event records the time stamp actually assigned.
 */

/** Where the database stands: the status it reflects, on which branch, and what was assigned so far. */
export interface DsidChainState {
  /** the DSID the database reflects now: the last save, or the save a restore brought it back to */
  readonly current: Dsid | null;
  /** the branch the next delta save belongs to */
  readonly lineage: string | null;
  /** largest time stamp assigned or restored so far; the next one must exceed it */
  readonly lastTimestamp: number | null;
  /** restores recorded so far: the next branch gets branches + 1 */
  readonly branches: number;
}

export type DsidChainCommand =
  | { readonly type: 'AssignFullSave' }
  | { readonly type: 'AssignDeltaSave' }
  /** the database was restored to the status of `restored` (a full save, or a full save plus deltas) */
  | { readonly type: 'RecordRestore'; readonly restored: Dsid };

export type DsidChainEvent =
  | { readonly type: 'FullSaveAssigned'; readonly dsid: Dsid }
  | { readonly type: 'DeltaSaveAssigned'; readonly dsid: Dsid }
  /** `branch` is the new branch ordinal, or null when the restore brought back the current status (no fork) */
  | { readonly type: 'RestoreRecorded'; readonly restored: Dsid; readonly lineage: string; readonly branch: number | null };

/** The chain of a database that has never been saved. */
export function initialState(): DsidChainState {
  return { current: null, lineage: null, lastTimestamp: null, branches: 0 };
}

function nextTimestamp(state: DsidChainState, now: number): number {
  if (!Number.isSafeInteger(now) || now < 0) throw new DsidParseError(`now ${now} must be ms since the epoch`, 'now');
  return state.lastTimestamp === null || now > state.lastTimestamp ? now : state.lastTimestamp + 1;
}

/** Decides the events of a chain command at time `now` (ms since the epoch, passed in); throws DsidStateError when illegal. */
export function decide(command: DsidChainCommand, state: DsidChainState, now: number): DsidChainEvent[] {
  switch (command.type) {
    case 'AssignFullSave': {
      const timestamp = nextTimestamp(state, now);
      const full = (state.current?.full ?? 0) + 1;
      return [
        {
          type: 'FullSaveAssigned',
          dsid: { full, deltaFrom: 0, deltaTo: 0, timestamp, lineage: rootLineage(full, timestamp) },
        },
      ];
    }
    case 'AssignDeltaSave': {
      if (state.current === null || state.lineage === null)
        throw new DsidStateError('a delta save needs a full save first (no full save in this chain)');
      const timestamp = nextTimestamp(state, now);
      const delta = state.current.deltaTo + 1;
      return [
        {
          type: 'DeltaSaveAssigned',
          dsid: { full: state.current.full, deltaFrom: delta, deltaTo: delta, timestamp, lineage: state.lineage },
        },
      ];
    }
    case 'RecordRestore':
      return [decideRestore(command.restored, state)];
    default: {
      const never: never = command;
      throw new DsidStateError(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

function decideRestore(restored: Dsid, state: DsidChainState): DsidChainEvent {
  assertValidDsid(restored);
  const { current, lineage } = state;
  if (current !== null && lineage !== null) {
    if (state.lastTimestamp !== null && restored.timestamp > state.lastTimestamp)
      throw new DsidStateError(`cannot restore ${formatDsid(restored)}: newer than any save of this database`);
    const atCurrent =
      restored.lineage === lineage && restored.full === current.full && restored.deltaTo === current.deltaTo;
    if (atCurrent) return { type: 'RestoreRecorded', restored, lineage, branch: null };
    if (isOnHistoryOf(restored, lineage) && restored.full === current.full && restored.deltaTo > current.deltaTo)
      throw new DsidStateError(`cannot restore ${formatDsid(restored)}: ahead of the current status ${formatDsid(current)}`);
  }
  const branch = state.branches + 1;
  return {
    type: 'RestoreRecorded',
    restored,
    lineage: forkLineage(restored.lineage, restored.full, restored.deltaTo, branch),
    branch,
  };
}

/** Applies one chain event to the state. */
export function evolve(state: DsidChainState, event: DsidChainEvent): DsidChainState {
  switch (event.type) {
    case 'FullSaveAssigned':
    case 'DeltaSaveAssigned':
      return {
        ...state,
        current: event.dsid,
        lineage: event.dsid.lineage,
        lastTimestamp: Math.max(state.lastTimestamp ?? 0, event.dsid.timestamp),
      };
    case 'RestoreRecorded':
      return {
        current: event.restored,
        lineage: event.lineage,
        lastTimestamp: Math.max(state.lastTimestamp ?? 0, event.restored.timestamp),
        branches: event.branch ?? state.branches,
      };
    default: {
      const never: never = event;
      throw new DsidStateError(`unknown event ${JSON.stringify(never)}`);
    }
  }
}
