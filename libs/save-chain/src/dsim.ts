import type { Dsid } from '@deltaflow/dsid';
import { SaveChainError, SaveChainErrorCode } from './errors';

/*
 * The original DSIM of one database as a decider (seed: "PLOG and DSIM Data Set Processing").
 * There is one original DSIM per database. An online save acquires it at its start sync s;
 * while collecting, it keeps the last image (here: the LSN of the last image; the bytes live
 * in the builder's store) of every block changed in (s, e]; the end sync e completes it; an
 * unload copies it to a sequential delta data set carrying the online save's DSID and frees
 * it; a reset frees it. A second online save while it is in use is refused.
 */

export type BlockKey = `${'ASSO' | 'DATA'}:${number}`;

export const blockKey = (area: 'ASSO' | 'DATA', rabn: number): BlockKey => `${area}:${rabn}`;

export type DsimState =
  | { readonly status: 'free' }
  | {
      readonly status: 'collecting' | 'complete';
      readonly correlationId: string;
      readonly dsid: Dsid;
      readonly startLsn: number;
      readonly endLsn: number | null;
      /** block → LSN of its last image in (startLsn, endLsn] */
      readonly blocks: ReadonlyMap<BlockKey, number>;
    };

export type DsimCommand =
  | { readonly type: 'Acquire'; readonly correlationId: string; readonly dsid: Dsid; readonly startLsn: number }
  | { readonly type: 'RecordImage'; readonly area: 'ASSO' | 'DATA'; readonly rabn: number; readonly lsn: number }
  | { readonly type: 'Complete'; readonly correlationId: string; readonly endLsn: number }
  | { readonly type: 'Unload'; readonly correlationId: string; readonly destination: string }
  | { readonly type: 'Reset'; readonly correlationId: string };

export type DsimEvent =
  | { readonly type: 'DsimAcquired'; readonly correlationId: string; readonly dsid: Dsid; readonly startLsn: number }
  | { readonly type: 'DsimImageRecorded'; readonly area: 'ASSO' | 'DATA'; readonly rabn: number; readonly lsn: number }
  | { readonly type: 'DsimCompleted'; readonly correlationId: string; readonly dsid: Dsid; readonly endLsn: number; readonly blocks: number }
  | { readonly type: 'DsimUnloaded'; readonly correlationId: string; readonly dsid: Dsid; readonly destination: string; readonly blocks: number }
  | { readonly type: 'DsimReset'; readonly correlationId: string; readonly dsid: Dsid | null }
  | { readonly type: 'DsimRejected'; readonly correlationId: string; readonly code: SaveChainErrorCode; readonly reason: string };

export function initialDsimState(): DsimState {
  return { status: 'free' };
}

/** Decides the events of one DSIM command. */
export function decideDsim(command: DsimCommand, state: DsimState): DsimEvent[] {
  switch (command.type) {
    case 'Acquire': {
      if (state.status !== 'free') {
        if (state.correlationId === command.correlationId) return [];
        return [
          {
            type: 'DsimRejected',
            correlationId: command.correlationId,
            code: 'DSIM_IN_USE',
            reason: `the original DSIM is in use by the online save ${state.correlationId} (${state.status}); unload or reset it first`,
          },
        ];
      }
      return [{ type: 'DsimAcquired', correlationId: command.correlationId, dsid: command.dsid, startLsn: command.startLsn }];
    }
    case 'RecordImage': {
      // images outside (s, e] belong to no save: before the acquire, at or before s, or after e
      if (state.status !== 'collecting' || command.lsn <= state.startLsn) return [];
      const seen = state.blocks.get(blockKey(command.area, command.rabn));
      if (seen !== undefined && seen >= command.lsn) return []; // redelivery or older image
      return [{ type: 'DsimImageRecorded', area: command.area, rabn: command.rabn, lsn: command.lsn }];
    }
    case 'Complete': {
      if (state.status === 'free' || state.correlationId !== command.correlationId)
        throw new SaveChainError('ILLEGAL_STATE', `no DSIM is being collected for save ${command.correlationId}`);
      if (state.status === 'complete') return [];
      if (command.endLsn < state.startLsn)
        throw new SaveChainError('VALIDATION', `end sync ${command.endLsn} precedes start sync ${state.startLsn}`);
      const blocks = [...state.blocks.values()].filter((l) => l <= command.endLsn).length;
      return [{ type: 'DsimCompleted', correlationId: state.correlationId, dsid: state.dsid, endLsn: command.endLsn, blocks }];
    }
    case 'Unload': {
      if (state.status === 'free')
        return [{ type: 'DsimRejected', correlationId: command.correlationId, code: 'DSIM_FREE', reason: 'the DSIM is free: nothing to unload' }];
      if (state.status === 'collecting')
        return [
          {
            type: 'DsimRejected',
            correlationId: command.correlationId,
            code: 'DSIM_NOT_COMPLETE',
            reason: `the DSIM of save ${state.correlationId} is not complete yet (its online save has not reached its end sync)`,
          },
        ];
      return [
        { type: 'DsimUnloaded', correlationId: command.correlationId, dsid: state.dsid, destination: command.destination, blocks: state.blocks.size },
      ];
    }
    case 'Reset':
      return [{ type: 'DsimReset', correlationId: command.correlationId, dsid: state.status === 'free' ? null : state.dsid }];
    default: {
      const never: never = command;
      throw new SaveChainError('VALIDATION', `unknown DSIM command ${JSON.stringify(never)}`);
    }
  }
}

/** Applies one DSIM event. */
export function evolveDsim(state: DsimState, event: DsimEvent): DsimState {
  switch (event.type) {
    case 'DsimAcquired':
      return { status: 'collecting', correlationId: event.correlationId, dsid: event.dsid, startLsn: event.startLsn, endLsn: null, blocks: new Map() };
    case 'DsimImageRecorded': {
      if (state.status !== 'collecting') return state;
      const blocks = new Map(state.blocks);
      blocks.set(blockKey(event.area, event.rabn), event.lsn);
      return { ...state, blocks };
    }
    case 'DsimCompleted': {
      if (state.status === 'free') return state;
      const blocks = new Map([...state.blocks].filter(([, l]) => l <= event.endLsn));
      return { ...state, status: 'complete', endLsn: event.endLsn, blocks };
    }
    case 'DsimUnloaded':
    case 'DsimReset':
      return { status: 'free' };
    case 'DsimRejected':
      return state;
    default: {
      const never: never = event;
      throw new SaveChainError('VALIDATION', `unknown DSIM event ${JSON.stringify(never)}`);
    }
  }
}
