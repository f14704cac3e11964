import type { Decider } from '@deltaflow/core';
import { formatDsid, sameDsid, type Dsid } from '@deltaflow/dsid';
import { SaveChainError, type SaveChainErrorCode } from './errors';

/*
 * The original DSIM of one database as a decider: the one authority on its state (seed: "PLOG
 * and DSIM Data Set Processing").
 *
 * There is one original DSIM per database. An online save acquires it at its start sync s
 * (it must be free); while the save runs it collects; when the save completes at its end sync
 * e, the DSIM is the last image of every block changed in (s, e] (PLCOPY), and it is complete
 * once the PLOG was read through e. It is then unloaded to a sequential data set carrying the
 * online save's DSID, or reset; either frees it. A failed online save frees it too (its images
 * are worthless).
 *
 * What the DSIM holds is a window over the PLOG, (startLsn, endLsn]: the images themselves stay
 * in the builder's PLOG store, which answers "the last image per block in the window". So the
 * state is small (no per-block map) and the same at any database size.
 *
 * The events other than DsimRejected, DsimSaveEnded and DsimPlogAdvanced are published on
 * dsf.events with the same names and fields (plus dbid and occurredAt).
 */

export type DsimState =
  | {
      readonly status: 'free';
      readonly plogLsn: number | null;
      /** the PLOG through this LSN fed the last DSIM, now freed: no later DSIM needs it */
      readonly freedThrough?: number;
    }
  | {
      readonly status: 'collecting' | 'complete';
      /** the PLOG was read through this sync LSN (null: no sync seen yet) */
      readonly plogLsn: number | null;
      readonly correlationId: string;
      readonly dsid: Dsid;
      readonly startLsn: number;
      /** the save's end sync: known once the save completed (still collecting until the PLOG reaches it) */
      readonly endLsn: number | null;
      /** distinct blocks in the window, once complete */
      readonly blocks: number | null;
    };

export type DsimCommand =
  /** an online save started at its start sync */
  | { readonly type: 'Acquire'; readonly correlationId: string; readonly dsid: Dsid; readonly startLsn: number }
  /** the PLOG was read through a sync point */
  | { readonly type: 'RecordPlogSync'; readonly lsn: number }
  /** the online save ended: completed at its end sync, or failed */
  | { readonly type: 'EndSave'; readonly correlationId: string; readonly outcome: 'completed'; readonly endLsn: number }
  | { readonly type: 'EndSave'; readonly correlationId: string; readonly outcome: 'failed' }
  /** complete it (allowed once the save ended and the PLOG reached its end sync); `blocks` = distinct blocks in the window */
  | { readonly type: 'Complete'; readonly correlationId: string; readonly blocks: number }
  /** may it be unloaded now? (checks only; the unload is recorded by RecordUnloaded once written) */
  | { readonly type: 'Unload'; readonly correlationId: string }
  /** may its blocks be printed (DSIMPRI)? (checks only) */
  | { readonly type: 'Print'; readonly correlationId: string }
  /** may it be copied for a merge or restore that reads it where it lives (complete only; checks only) */
  | { readonly type: 'Snapshot'; readonly correlationId: string }
  /** a merge consumed it with its online save (seed: "Following the merge operation, the DSIM data set is reset") */
  | { readonly type: 'Release'; readonly correlationId: string; readonly dsid: Dsid }
  /** the unloaded data set is written and durable: the DSIM is free */
  | { readonly type: 'RecordUnloaded'; readonly correlationId: string; readonly location: DsimLocation; readonly blocks: number; readonly digest: string }
  /** DSIMRESET; without `force` refused while a save needs it (collecting, or complete and never unloaded or merged) */
  | { readonly type: 'Reset'; readonly correlationId: string; readonly force?: boolean };

/** Where an unloaded DSIM was written (the contracts' Location). */
export type DsimLocation = { readonly kind: 'directory'; readonly name: string } | { readonly kind: 'stream'; readonly stream: string; readonly clientFile: string };

export type DsimEvent =
  | { readonly type: 'DsimAcquired'; readonly correlationId: string; readonly dsid: Dsid; readonly startLsn: number }
  | { readonly type: 'DsimPlogAdvanced'; readonly lsn: number }
  | { readonly type: 'DsimSaveEnded'; readonly correlationId: string; readonly endLsn: number }
  | { readonly type: 'DsimCompleted'; readonly correlationId: string; readonly dsid: Dsid; readonly startLsn: number; readonly endLsn: number; readonly blocks: number }
  | { readonly type: 'DsimUnloaded'; readonly correlationId: string; readonly dsid: Dsid; readonly location: DsimLocation; readonly blocks: number; readonly digest: string }
  | { readonly type: 'DsimReset'; readonly correlationId: string; readonly dsid?: Dsid }
  | { readonly type: 'DsimReleased'; readonly correlationId: string; readonly dsid: Dsid }
  /** the command was refused; nothing changes */
  | { readonly type: 'DsimRejected'; readonly correlationId: string; readonly code: SaveChainErrorCode; readonly reason: string };

export function initialState(): DsimState {
  return { status: 'free', plogLsn: null };
}

const rejected = (correlationId: string, code: SaveChainErrorCode, reason: string): DsimEvent[] => [{ type: 'DsimRejected', correlationId, code, reason }];

/** The DSIM in use: its save and its window over the PLOG, (startLsn, endLsn]; null when free. */
export interface DsimWindow {
  readonly correlationId: string;
  readonly dsid: Dsid;
  readonly startLsn: number;
  /** null while the save runs */
  readonly endLsn: number | null;
  readonly complete: boolean;
}

export function window(state: DsimState): DsimWindow | null {
  if (state.status === 'free') return null;
  return { correlationId: state.correlationId, dsid: state.dsid, startLsn: state.startLsn, endLsn: state.endLsn, complete: state.status === 'complete' };
}

/** The window when the DSIM may complete now (its save ended at e and the PLOG was read through e), else null. */
export function completionDue(state: DsimState): DsimWindow | null {
  const due = state.status === 'collecting' && state.endLsn !== null && state.plogLsn !== null && state.plogLsn >= state.endLsn;
  return due ? window(state) : null;
}

/** PLOG images at or below this LSN feed no DSIM any more and may be forgotten (null: none). */
export function plogForgettableThrough(state: DsimState): number | null {
  return state.status === 'free' ? (state.freedThrough ?? null) : state.startLsn;
}

/** Decides the events of one DSIM command. */
export function decide(command: DsimCommand, state: DsimState): DsimEvent[] {
  switch (command.type) {
    case 'Acquire': {
      if (state.status !== 'free') {
        if (state.correlationId === command.correlationId) return [];
        return rejected(
          command.correlationId,
          'DSIM_IN_USE',
          `the original DSIM is in use by the online save ${state.correlationId} (${state.status}); unload or reset it first`,
        );
      }
      return [{ type: 'DsimAcquired', correlationId: command.correlationId, dsid: command.dsid, startLsn: command.startLsn }];
    }
    case 'RecordPlogSync':
      return state.plogLsn !== null && command.lsn <= state.plogLsn ? [] : [{ type: 'DsimPlogAdvanced', lsn: command.lsn }];
    case 'EndSave': {
      if (state.status === 'free' || state.correlationId !== command.correlationId) return []; // not this DSIM's save (or already freed)
      if (command.outcome === 'failed') return [{ type: 'DsimReset', correlationId: command.correlationId, dsid: state.dsid }];
      if (state.endLsn !== null) return [];
      if (command.endLsn < state.startLsn) throw new SaveChainError('VALIDATION', `end sync ${command.endLsn} precedes start sync ${state.startLsn}`);
      return [{ type: 'DsimSaveEnded', correlationId: command.correlationId, endLsn: command.endLsn }];
    }
    case 'Complete': {
      if (state.status === 'complete' && state.correlationId === command.correlationId) return [];
      if (completionDue(state) === null || state.status === 'free' || state.correlationId !== command.correlationId) return [];
      return [
        { type: 'DsimCompleted', correlationId: state.correlationId, dsid: state.dsid, startLsn: state.startLsn, endLsn: state.endLsn!, blocks: command.blocks },
      ];
    }
    case 'Unload':
      if (state.status === 'free') return rejected(command.correlationId, 'DSIM_FREE', 'the DSIM is free: nothing to unload');
      if (state.status === 'collecting')
        return rejected(
          command.correlationId,
          'DSIM_NOT_COMPLETE',
          `the DSIM of save ${state.correlationId} is not complete yet (its online save has not reached its end sync, or the PLOG not yet)`,
        );
      return [];
    case 'Print':
      return state.status === 'free' ? rejected(command.correlationId, 'DSIM_FREE', 'the DSIM is free: nothing to print') : [];
    case 'Snapshot':
      if (state.status === 'free') return rejected(command.correlationId, 'DSIM_FREE', 'the original DSIM is free: there is no original DSIM to read');
      if (state.status === 'collecting')
        return rejected(command.correlationId, 'DSIM_NOT_COMPLETE', `the DSIM of save ${state.correlationId} is not complete yet (use DSIMWAIT: --dsim-wait SEC)`);
      return [];
    case 'Release':
      if (state.status === 'free' || !sameDsid(state.dsid, command.dsid)) return [];
      return [{ type: 'DsimReleased', correlationId: command.correlationId, dsid: state.dsid }];
    case 'RecordUnloaded':
      if (state.status !== 'complete') throw new SaveChainError('ILLEGAL_STATE', `no complete DSIM to record an unload for (${state.status})`);
      return [{ type: 'DsimUnloaded', correlationId: command.correlationId, dsid: state.dsid, location: command.location, blocks: command.blocks, digest: command.digest }];
    case 'Reset':
      if (state.status === 'collecting' && !command.force)
        return rejected(
          command.correlationId,
          'DSIM_IN_USE',
          `the online save ${state.correlationId} is collecting its DSIM: a reset would leave it inconsistent (--force resets anyway, and that save fails)`,
        );
      if (state.status === 'complete' && !command.force)
        return rejected(
          command.correlationId,
          'DSIM_NOT_UNLOADED',
          `the DSIM of the online save ${formatDsid(state.dsid)} was never unloaded or merged: resetting it orphans that save (it could never be merged or restored). Unload it or merge it first, or reset with --force`,
        );
      return [{ type: 'DsimReset', correlationId: command.correlationId, ...(state.status === 'free' ? {} : { dsid: state.dsid }) }];
    default: {
      const never: never = command;
      throw new SaveChainError('VALIDATION', `unknown DSIM command ${JSON.stringify(never)}`);
    }
  }
}

/** Applies one DSIM event. */
export function evolve(state: DsimState, event: DsimEvent): DsimState {
  switch (event.type) {
    case 'DsimAcquired':
      return { status: 'collecting', plogLsn: state.plogLsn, correlationId: event.correlationId, dsid: event.dsid, startLsn: event.startLsn, endLsn: null, blocks: null };
    case 'DsimPlogAdvanced':
      return { ...state, plogLsn: state.plogLsn === null ? event.lsn : Math.max(state.plogLsn, event.lsn) };
    case 'DsimSaveEnded':
      return state.status === 'collecting' ? { ...state, endLsn: event.endLsn } : state;
    case 'DsimCompleted':
      return state.status === 'free' ? state : { ...state, status: 'complete', endLsn: event.endLsn, blocks: event.blocks };
    case 'DsimUnloaded':
    case 'DsimReleased':
    case 'DsimReset': {
      // a DSIM whose save ended at e is done with the PLOG through e; a failed save's images stay until the next acquire
      const through = state.status === 'free' ? state.freedThrough : (state.endLsn ?? undefined);
      return { status: 'free', plogLsn: state.plogLsn, ...(through !== undefined ? { freedThrough: through } : {}) };
    }
    case 'DsimRejected':
      return state;
    default: {
      const never: never = event;
      throw new SaveChainError('VALIDATION', `unknown DSIM event ${JSON.stringify(never)}`);
    }
  }
}

/** The DSIM decider as one value. */
export const dsimDecider: Decider<DsimCommand, DsimEvent, DsimState> = { decide, evolve, initialState };
