/**
 * Health of a service: liveness (the process serves; nothing it depends on is consulted, so a pod
 * is not restarted because Kafka or PostgreSQL is down) and readiness (every readiness check
 * passes: the Kafka transport consumes, the database answers). Checks run concurrently, each
 * within its timeout; a probe arriving while a check runs shares its answer.
 *
 * A check returns (or resolves to) undefined when fine, or a reason; a throw or a timeout is a
 * failure too. runService adds the transport's check; a service adds its own through runService's
 * `readiness` option or by injecting HealthService (`health.addCheck(...)`) in a provider.
 */
import { Injectable } from '@nestjs/common';
import { Pool } from 'pg';

export interface HealthCheck {
  /** short name, shown in the answer: `kafka`, `database` */
  readonly name: string;
  /** undefined when fine, else the reason (a throw counts as the reason) */
  check(): string | undefined | void | Promise<string | undefined | void>;
  /** ms (default 2000) */
  readonly timeoutMs?: number;
  /** a liveness check: failing means the process cannot recover by itself (default: readiness) */
  readonly liveness?: boolean;
}

export interface CheckResult {
  readonly status: 'ok' | 'failing';
  readonly reason?: string;
  readonly ms: number;
}

export interface HealthReport {
  readonly ok: boolean;
  /** the failing checks' reasons, `name: reason; ...` */
  readonly reason?: string;
  readonly checks: Record<string, CheckResult>;
}

const DEFAULT_TIMEOUT_MS = 2_000;

@Injectable()
export class HealthService {
  private readonly checks = new Set<HealthCheck>();
  private readonly inFlight = new Map<HealthCheck, Promise<CheckResult>>();
  readonly startedAt = Date.now();

  /** Adds a check; returns a function that removes it. */
  addCheck(check: HealthCheck): () => void {
    this.checks.add(check);
    return () => this.checks.delete(check);
  }

  names(): string[] {
    return [...this.checks].map((c) => c.name);
  }

  /** Live and ready: every check (GET /health). */
  all(): Promise<HealthReport> {
    return this.run([...this.checks]);
  }

  /** Readiness: the readiness checks (GET /health/ready). */
  ready(): Promise<HealthReport> {
    return this.run([...this.checks].filter((c) => !c.liveness));
  }

  /** Liveness: only the liveness checks (GET /health/live). */
  live(): Promise<HealthReport> {
    return this.run([...this.checks].filter((c) => c.liveness));
  }

  private async run(checks: HealthCheck[]): Promise<HealthReport> {
    const results = await Promise.all(checks.map((c) => this.runOne(c)));
    const out: Record<string, CheckResult> = {};
    const reasons: string[] = [];
    checks.forEach((c, i) => {
      // two checks of one name (two consumers, say): the second is name#2
      let name = c.name;
      for (let n = 2; name in out; n++) name = `${c.name}#${n}`;
      out[name] = results[i];
      if (results[i].status !== 'ok') reasons.push(`${name}: ${results[i].reason}`);
    });
    return { ok: reasons.length === 0, ...(reasons.length ? { reason: reasons.join('; ') } : {}), checks: out };
  }

  private runOne(c: HealthCheck): Promise<CheckResult> {
    let p = this.inFlight.get(c);
    if (!p) {
      p = evaluate(c).finally(() => this.inFlight.delete(c));
      this.inFlight.set(c, p);
    }
    return p;
  }
}

async function evaluate(c: HealthCheck): Promise<CheckResult> {
  const t0 = Date.now();
  const timeoutMs = c.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    const reason = await Promise.race([
      Promise.resolve().then(() => c.check()),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      }),
    ]);
    const ms = Date.now() - t0;
    return typeof reason === 'string' ? { status: 'failing', reason, ms } : { status: 'ok', ms };
  } catch (err) {
    return { status: 'failing', reason: (err as Error)?.message || String(err), ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Something that runs SQL: a TypeORM DataSource or EntityManager, a pg Pool or Client. */
export interface SqlQueryable {
  query(sql: string): Promise<unknown>;
  readonly isInitialized?: boolean;
}

/**
 * `SELECT 1` through the service's own DataSource (its pool: a saturated pool shows as slow).
 * `ds` may be a function, for a DataSource created later (in onModuleInit).
 */
export function dataSourceCheck(ds: SqlQueryable | (() => SqlQueryable | undefined), opts: { name?: string; timeoutMs?: number } = {}): HealthCheck {
  return {
    name: opts.name ?? 'database',
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    async check() {
      const d = typeof ds === 'function' ? ds() : ds;
      if (!d) return 'not open yet';
      if (d.isInitialized === false) return 'closed';
      await d.query('SELECT 1');
      return undefined;
    },
  };
}

/**
 * `SELECT 1` on a connection of its own to `databaseUrl` (one pooled connection, kept while the
 * server answers): the database is reachable, whatever the service's pool is doing. `close()`
 * when the service stops (runService does for the checks it was given).
 */
export function postgresCheck(databaseUrl: string, opts: { name?: string; timeoutMs?: number } = {}): HealthCheck & { close(): Promise<void> } {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let pool: Pool | undefined;
  const open = () => {
    if (!pool) {
      pool = new Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: timeoutMs, idleTimeoutMillis: 60_000, allowExitOnIdle: true, statement_timeout: timeoutMs, application_name: 'deltaflow-health' });
      // a connection the server dropped: the next check reconnects
      pool.on('error', () => undefined);
    }
    return pool;
  };
  return {
    name: opts.name ?? 'database',
    timeoutMs,
    async check() {
      await open().query('SELECT 1');
      return undefined;
    },
    async close() {
      const p = pool;
      pool = undefined;
      await p?.end().catch(() => undefined);
    },
  };
}
