/**
 * The shape of every event-sourced model in Deltaflow (after Emmett): `decide` turns a command
 * and the current state into events (or throws a coded error when the command is refused),
 * `evolve` applies one event, `initialState` is the state before any event. All three are pure:
 * time and ids come in with the command.
 */
export interface Decider<Command, Event, State, Init extends unknown[] = []> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(...args: Init): State;
}

/** Folds events onto a state with a decider's `evolve`. */
export function foldEvents<E, S>(evolve: (s: S, e: E) => S, state: S, events: Iterable<E>): S {
  let s = state;
  for (const e of events) s = evolve(s, e);
  return s;
}
