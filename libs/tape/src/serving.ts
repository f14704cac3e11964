/**
 * Who may serve a stream (pure). Each stream is written by one multiplexer instance at a time:
 * the one that owns the stream's partition of sov.superblocks and sov.commands (both keyed by
 * stream, assigned co-partitioned). A partition moves on a rebalance while its previous owner may
 * still be finishing a run, so the new owner waits until the stream's last `StreamServed` names
 * no other live instance: the previous server published `StreamReleased` (after syncing what it
 * wrote and publishing its RunPlaced), or it is no longer a member of the group (killed: then
 * the new server reconciles its volumes from what they hold).
 */
import type { SovState } from './streams';

export type ServingVerdict = { readonly serve: true } | { readonly serve: false; readonly holder: string };

/** May `instance` serve `stream` now, given the group's live instances? An unknown stream: yes. */
export function servingVerdict(state: SovState, stream: string, instance: string, live: ReadonlySet<string>): ServingVerdict {
  const holder = state.streams.get(stream)?.servedBy ?? null;
  if (holder === null || holder === instance || !live.has(holder)) return { serve: true };
  return { serve: false, holder };
}
