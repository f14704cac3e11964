/**
 * A read model's rows folded in memory for one batch (apply-batch.ts): the projection's `prepare`
 * loads, in one SELECT, every row the batch's events can touch (locked FOR UPDATE, as the DLOG fold
 * does); each event then changes the rows in memory exactly as its SQL statement would change them
 * in the database; at the end of the batch every changed row is written once, all of them in one
 * multi-row upsert (INSERT ... SELECT FROM json_populate_recordset ... ON CONFLICT DO UPDATE). So a
 * batch costs one read and one write per table instead of a statement per event, and the rows are
 * those of the statements applied one by one (the batched apply's tests compare the digests).
 *
 * Rows are kept as row_to_json renders them (bigint and int as numbers, jsonb as values, arrays as
 * arrays) and written back through json_populate_recordset, so what is read is what is written. A
 * row written whole has every column: a column missing from the JSON is NULL (not the column's
 * DEFAULT), so a fold that inserts sets the defaults itself.
 *
 * An event whose effect the fold does not model runs its SQL statement as a barrier: the changed
 * rows are written first, the statement runs, then the rows it changed are read again (or, for a
 * delete, marked gone).
 */
import { CatalogError } from './errors';
import type { ApplyContext, Queryable } from './projection';

export type Row = Record<string, any>;

export interface FoldTable {
  readonly name: string;
  /** the primary key's columns with their SQL types */
  readonly key: ReadonlyArray<readonly [column: string, type: string]>;
  /** every column, in table order */
  readonly columns: readonly string[];
}

const q = (c: string) => `"${c}"`;

export class RowFold {
  /** every key asked for so far: its row, or null where there is none */
  private readonly rows = new Map<string, Row | null>();
  private readonly dirty = new Set<string>();
  /** rows removed in memory, deleted by the next write */
  private readonly removed = new Map<string, readonly unknown[]>();
  /** statements written (for tests) */
  writes = 0;

  constructor(readonly table: FoldTable) {}

  /** The key of a row from its key columns' values (in key order), as row_to_json renders them. */
  key(...values: unknown[]): string {
    return JSON.stringify(values);
  }

  private keyOfRow(r: Row): string {
    return JSON.stringify(this.table.key.map(([c]) => r[c]));
  }

  /** The row under a key (null: none); throws for a key the batch's prepare did not load (a bug). */
  get(key: string): Row | null {
    const r = this.rows.get(key);
    if (r === undefined) throw new CatalogError('VALIDATION', `${this.table.name}: row ${key} was not loaded for this batch`);
    return r;
  }

  /** Sets (inserts or replaces) a row: written at the end of the batch. */
  put(row: Row): void {
    const key = this.keyOfRow(row);
    this.rows.set(key, row);
    this.dirty.add(key);
    this.removed.delete(key);
  }

  /** Removes a row (as a DELETE of it would): deleted by the next write. */
  remove(key: string): void {
    const row = this.get(key);
    if (row === null) return;
    this.rows.set(key, null);
    this.dirty.delete(key);
    this.removed.set(key, this.table.key.map(([c]) => row[c]));
  }

  /** Every known row (not the absent ones). */
  known(): Row[] {
    return [...this.rows.values()].filter((r): r is Row => r !== null);
  }

  /** Loads the rows of these keys (each an array of the key columns' values), locking them. */
  async load(m: Queryable, keys: ReadonlyArray<readonly unknown[]>): Promise<void> {
    const fresh = new Map<string, readonly unknown[]>();
    for (const k of keys) {
      const key = JSON.stringify(k);
      if (!this.rows.has(key)) fresh.set(key, k);
    }
    if (fresh.size === 0) return;
    const cols = this.table.key.map(([c]) => q(c)).join(', ');
    const arrays = this.table.key.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
    const params = this.table.key.map((_, i) => [...fresh.values()].map((k) => k[i]));
    const found = (await m.query(`SELECT row_to_json(t) AS r FROM ${this.table.name} t WHERE (${cols}) IN (SELECT * FROM unnest(${arrays})) FOR UPDATE`, params)) as Array<{ r: Row }>;
    for (const key of fresh.keys()) this.rows.set(key, null);
    for (const { r } of found) this.rows.set(this.keyOfRow(r), r);
  }

  /** Loads the rows matching a condition (e.g. every row of some databases), locking them. */
  async loadWhere(m: Queryable, where: string, params: readonly unknown[]): Promise<void> {
    const found = (await m.query(`SELECT row_to_json(t) AS r FROM ${this.table.name} t WHERE ${where} FOR UPDATE`, params)) as Array<{ r: Row }>;
    for (const { r } of found) {
      const key = this.keyOfRow(r);
      if (!this.dirty.has(key)) this.rows.set(key, r);
    }
  }

  /** Writes the changed rows: one statement (none when nothing changed), after one deleting the removed rows (if any). */
  async write(m: Queryable): Promise<void> {
    if (this.removed.size > 0) {
      const gone = [...this.removed.values()];
      this.removed.clear();
      const cols = this.table.key.map(([c]) => q(c)).join(', ');
      const arrays = this.table.key.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
      this.writes++;
      await m.query(`DELETE FROM ${this.table.name} WHERE (${cols}) IN (SELECT * FROM unnest(${arrays}))`, this.table.key.map((_, i) => gone.map((k) => k[i])));
    }
    if (this.dirty.size === 0) return;
    const rows = [...this.dirty].map((k) => this.rows.get(k));
    this.dirty.clear();
    const keys = this.table.key.map(([c]) => q(c)).join(', ');
    const set = this.table.columns
      .filter((c) => !this.table.key.some(([k]) => k === c))
      .map((c) => `${q(c)} = EXCLUDED.${q(c)}`)
      .join(', ');
    this.writes++;
    await m.query(
      `INSERT INTO ${this.table.name} SELECT * FROM json_populate_recordset(NULL::${this.table.name}, $1::json) ON CONFLICT (${keys}) DO ${set ? `UPDATE SET ${set}` : 'NOTHING'}`,
      [JSON.stringify(rows)],
    );
  }

  /** After a statement that deleted these rows in the database. */
  deleted(keys: Iterable<string>): void {
    for (const k of keys) {
      if (this.dirty.has(k)) throw new CatalogError('VALIDATION', `${this.table.name}: row ${k} deleted before it was written`);
      if (this.rows.has(k)) this.rows.set(k, null);
    }
  }

  /** Known keys whose row matches (e.g. every run on a volume). */
  keysWhere(match: (r: Row) => boolean): string[] {
    return [...this.rows].filter(([, r]) => r !== null && match(r)).map(([k]) => k);
  }

  /** After a statement that changed these rows in the database: reads them again. */
  async reloadKeys(m: Queryable, keys: readonly string[]): Promise<void> {
    for (const k of keys) this.rows.delete(k);
    await this.load(
      m,
      keys.map((k) => JSON.parse(k) as unknown[]),
    );
  }
}

/** The folds of one projection in a batch (null outside a batch's prepare: the projection applies its SQL). */
export function foldsOf(ctx: ApplyContext | undefined, projection: string): RowFold[] | undefined {
  return ctx?.memo.get(`fold:${projection}`) as RowFold[] | undefined;
}

/** Registers a projection's folds for the batch: written once, at its end. */
export function startFolds(ctx: ApplyContext, projection: string, folds: RowFold[]): RowFold[] {
  ctx.memo.set(`fold:${projection}`, folds);
  ctx.atEnd.set(`fold:${projection}`, async (m) => {
    for (const f of folds) await f.write(m);
  });
  return folds;
}

/** PostgreSQL's row comparison (a1, a2) < (b1, b2): null where a NULL decides. */
export function rowLess(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === null || a[i] === undefined || b[i] === null || b[i] === undefined) return false;
    if ((a[i] as number) < (b[i] as number)) return true;
    if ((a[i] as number) > (b[i] as number)) return false;
  }
  return false;
}
