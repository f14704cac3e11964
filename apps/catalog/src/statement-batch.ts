/**
 * A statement buffer for the catalog's batched apply: the projections' writes are queued in order
 * and sent in one round trip (one simple-protocol query string of `EXECUTE` statements over
 * server-side prepared statements), so a batch of thousands of events costs a handful of round
 * trips instead of thousands. Semantics are the projections' own: the same SQL text, executed in
 * the same order, in the caller's transaction; parameters are rendered exactly as node-postgres
 * sends them (its prepareValue), as untyped literals that PostgreSQL coerces to the types it
 * inferred for the prepared statement (the same inference as for node-postgres' unnamed
 * statements). A read (SELECT, or WITH ... SELECT: a write whose RETURNING rows are read) first
 * flushes what is queued, then runs at once.
 */
import type { PoolClient } from 'pg';
import type { Queryable } from './projection';
// node-postgres' own parameter rendering (the text it sends for each value)
const { prepareValue, escapeLiteral } = require('pg/lib/utils') as { prepareValue: (v: unknown) => unknown; escapeLiteral: (s: string) => string };


/** The statements prepared on each pooled connection (by name); dropped after a failure. */
const prepared = new WeakMap<object, Set<string>>();
const names = new Map<string, string>();
/** flush when the queued text grows past this */
const FLUSH_CHARS = 4 << 20;

export function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  const p = prepareValue(v);
  if (p === null || p === undefined) return 'NULL';
  if (Buffer.isBuffer(p)) return `'\\x${p.toString('hex')}'`;
  const text = String(p);
  // node-postgres' escapeLiteral, by the engine's regular expressions: the same text, without a
  // loop over every character of a long value (a batch's rows as one JSON parameter)
  if (text.length < 256) return escapeLiteral(text);
  const quoted = text.replace(/'/g, "''");
  return text.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

function nameOf(sql: string): string {
  let n = names.get(sql);
  if (n === undefined) {
    n = `deltaflow_catalog_${names.size + 1}`;
    names.set(sql, n);
  }
  return n;
}

export class StatementBatch implements Queryable {
  private queue: string[] = [];
  /**
   * PREPAREs go alone, each in its own query: PostgreSQL keeps a prepared statement's whole source
   * string and copies it on every EXECUTE, so one prepared inside a long multi-statement string
   * would make every later EXECUTE cost the length of that string.
   */
  private toPrepare: string[] = [];
  private chars = 0;
  /** statements sent (for benchmarks and tests) */
  statements = 0;
  roundTrips = 0;

  constructor(private readonly client: PoolClient) {}

  async query(sql: string, params: readonly unknown[] = []): Promise<any> {
    if (/^\s*(SELECT|WITH)\b/i.test(sql)) {
      await this.flush();
      this.roundTrips++;
      return (await this.client.query(sql, params as unknown[])).rows;
    }
    this.enqueue(sql, params);
    if (this.chars > FLUSH_CHARS) await this.flush();
    return [];
  }

  private enqueue(sql: string, params: readonly unknown[]): void {
    let ready = prepared.get(this.client);
    if (ready === undefined) {
      ready = new Set();
      prepared.set(this.client, ready);
    }
    const name = nameOf(sql);
    if (!ready.has(name)) {
      this.toPrepare.push(`PREPARE ${name} AS ${sql}`);
      ready.add(name);
    }
    this.push(params.length === 0 ? `EXECUTE ${name}` : `EXECUTE ${name}(${params.map(literal).join(', ')})`);
  }

  private push(statement: string): void {
    this.queue.push(statement);
    this.chars += statement.length + 2;
    this.statements++;
  }

  /** Sends what is queued (one round trip). */
  async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    try {
      for (const p of this.toPrepare) {
        this.roundTrips++;
        await this.client.query(p);
      }
      this.toPrepare = [];
    } catch (err) {
      prepared.delete(this.client);
      throw err;
    }
    const text = this.queue.join(';\n');
    this.queue = [];
    this.chars = 0;
    this.roundTrips++;
    try {
      await this.client.query(text);
    } catch (err) {
      // which PREPAREs survived is not worth guessing: the caller rolls back, then reset()
      prepared.delete(this.client);
      throw err;
    }
  }

  /** After a rollback: drops this connection's prepared statements (they are prepared again on next use). */
  async reset(): Promise<void> {
    this.queue = [];
    this.toPrepare = [];
    this.chars = 0;
    prepared.delete(this.client);
    await this.client.query('DEALLOCATE ALL').catch(() => undefined);
  }
}
