import type { TopicMessage } from '@deltaflow/contracts';

export type DsfEvent = TopicMessage<'dsf.events'>;
export type SovEvent = TopicMessage<'sov.events'>;
/**
 * Every message the catalog folds: dsf.events (saves, DSIMs, lineages, restores), dsf.dlog for the
 * DLOG's state in reports, and sov.events (streams, devices, volumes, client files).
 */
export type CatalogEvent = DsfEvent | TopicMessage<'dsf.dlog'> | SovEvent;

/**
 * One read model (Emmett-style): the events it handles and how each changes its rows.
 * `apply` must be idempotent on its own (insert-or-ignore, position guards), beside the
 * offset checkpoint that applyOnce keeps in the same transaction.
 */
export interface Projection {
  readonly name: string;
  /** its tables, each with its primary key (the digest's row order) */
  readonly tables: ReadonlyArray<{ readonly name: string; readonly key: string }>;
  canHandle(event: CatalogEvent): boolean;
  /**
   * Writes are queued and sent in bulk by the batched apply (statement-batch.ts): an apply must
   * not rely on a write's result, and should read (SELECT) only when it must, since a read waits
   * for the queued writes. `ctx` lives for one batch (one transaction): a projection may keep
   * state it read there, keyed by its own name.
   */
  apply(m: Queryable, event: CatalogEvent, ctx?: ApplyContext): Promise<void>;
  /**
   * Called by the batched apply before the batch's events (those new to this projection, in
   * order): a projection that folds its rows in memory (row-fold.ts) loads what they touch here,
   * in one read, and then applies each event in memory; without it, `apply` runs its statements.
   */
  prepare?(m: Queryable, events: readonly CatalogEvent[], ctx: ApplyContext): Promise<void>;
}

/** The database surface a projection uses: `query` (an EntityManager, a DataSource or a StatementBatch). */
export interface Queryable {
  query(sql: string, params?: readonly unknown[]): Promise<any>;
}

/** Per-batch scratch space for projections (their own keys); empty for each transaction. */
export interface ApplyContext {
  readonly memo: Map<string, unknown>;
  /**
   * Writes run once at the end of the batch (before the checkpoints move), by key: a later event
   * replaces the write an earlier one left under the same key (a row rewritten whole by each
   * event, e.g. a fold's snapshot, is then written once per batch).
   */
  readonly atEnd: Map<string, (m: Queryable) => Promise<void>>;
}

/** The location of a data set, printed as a path: `<name>` or `stream:<stream>/<clientFile>`. */
export function locationPath(l: { kind: 'directory'; name: string } | { kind: 'stream'; stream: string; clientFile: string }): string {
  return l.kind === 'directory' ? l.name : `stream:${l.stream}/${l.clientFile}`;
}
