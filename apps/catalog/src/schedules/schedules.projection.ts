/**
 * Schedules read model (`dsf schedule`): one row per schedule (its definition, active / removed /
 * halted, the cycle and day it reached) and one per step it ran (started → completed or failed,
 * with the DSID it made). Inserts ignore duplicates and a status only moves forward, so redelivery
 * changes nothing.
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import type { CatalogEvent, Projection } from '../projection';

const TYPES: ReadonlySet<string> = new Set(['ScheduleDefined', 'ScheduleRemoved', 'ScheduleStepStarted', 'ScheduleStepCompleted', 'ScheduleStepFailed', 'ScheduleHalted']);

export const schedulesProjection: Projection = {
  name: 'catalog.schedules',
  tables: [
    { name: 'catalog_schedule', key: 'dbid, schedule_id' },
    { name: 'catalog_schedule_step', key: 'dbid, correlation_id' },
  ],
  canHandle: (e) => TYPES.has(e.type),
  apply: applyScheduleEvent,
};

async function applyScheduleEvent(m: EntityManager, e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'ScheduleDefined':
      await m.query(
        `INSERT INTO catalog_schedule (dbid, schedule_id, delta_every_ms, cycle_ms, start_at, status, defined_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) ON CONFLICT (dbid, schedule_id) DO NOTHING`,
        [e.dbid, e.scheduleId, e.deltaEveryMs, e.cycleMs, e.startAt, e.occurredAt],
      );
      return;
    case 'ScheduleRemoved':
      await m.query(`UPDATE catalog_schedule SET status = 'removed', updated_at = $3 WHERE dbid = $1 AND schedule_id = $2 AND status = 'active'`, [e.dbid, e.scheduleId, e.occurredAt]);
      return;
    case 'ScheduleHalted':
      await m.query(`UPDATE catalog_schedule SET status = 'halted', reason = $3, updated_at = $4 WHERE dbid = $1 AND schedule_id = $2 AND status = 'active'`, [
        e.dbid,
        e.scheduleId,
        e.reason,
        e.occurredAt,
      ]);
      return;
    case 'ScheduleStepStarted':
      await m.query(
        `INSERT INTO catalog_schedule_step (dbid, correlation_id, schedule_id, cycle, day, step, attempt, command_type, inputs, output, status, due_at, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'started', $11, $12) ON CONFLICT (dbid, correlation_id) DO NOTHING`,
        [e.dbid, e.correlationId, e.scheduleId, e.cycle, e.day, e.step, e.attempt, e.commandType, e.inputs ? JSON.stringify(e.inputs) : null, e.output, e.dueAt, e.occurredAt],
      );
      await m.query(`UPDATE catalog_schedule SET cycle = $3, day = $4, updated_at = $5 WHERE dbid = $1 AND schedule_id = $2 AND updated_at <= $5`, [
        e.dbid,
        e.scheduleId,
        e.cycle,
        e.day,
        e.occurredAt,
      ]);
      return;
    case 'ScheduleStepCompleted':
      await m.query(`UPDATE catalog_schedule_step SET status = 'completed', dsid = $3, completed_at = $4 WHERE dbid = $1 AND correlation_id = $2 AND status = 'started'`, [
        e.dbid,
        e.correlationId,
        e.dsid ? formatDsid(e.dsid) : null,
        e.occurredAt,
      ]);
      // the cycle merge's new full save starts the next cycle
      if (e.step === 'cycle-merge')
        await m.query(`UPDATE catalog_schedule SET cycle = $3, day = 0, updated_at = $4 WHERE dbid = $1 AND schedule_id = $2 AND cycle = $3 - 1`, [e.dbid, e.scheduleId, e.cycle + 1, e.occurredAt]);
      return;
    case 'ScheduleStepFailed':
      await m.query(
        `UPDATE catalog_schedule_step SET status = 'failed', code = $3, reason = $4, retry_at = $5, completed_at = $6 WHERE dbid = $1 AND correlation_id = $2 AND status = 'started'`,
        [e.dbid, e.correlationId, e.code, e.reason, e.retryAt ?? null, e.occurredAt],
      );
      return;
    default:
      return;
  }
}

export interface ScheduleStepView {
  correlationId: string;
  cycle: number;
  day: number;
  step: string;
  attempt: number;
  commandType: string;
  inputs?: string[];
  output: string;
  status: 'started' | 'completed' | 'failed';
  dsid?: string;
  code?: string;
  reason?: string;
  retryAt?: number;
  dueAt: number;
  startedAt: number;
  completedAt?: number;
}

export interface ScheduleView {
  dbid: number;
  scheduleId: string;
  deltaEveryMs: number;
  cycleMs: number;
  startAt: number;
  status: 'active' | 'removed' | 'halted';
  reason?: string;
  cycle: number;
  day: number;
  definedAt: number;
  updatedAt: number;
  /** the last `steps` steps, oldest first */
  steps: ScheduleStepView[];
}

const num = (v: unknown) => Number(v);

/** The schedules (of one database, or all), newest definition first, each with its last `steps` steps. */
export async function querySchedules(m: Pick<EntityManager, 'query'>, o: { dbid?: number; steps?: number } = {}): Promise<ScheduleView[]> {
  const rows: Array<Record<string, unknown>> = await m.query(
    `SELECT * FROM catalog_schedule ${o.dbid !== undefined ? 'WHERE dbid = $1' : ''} ORDER BY defined_at DESC, dbid, schedule_id`,
    o.dbid !== undefined ? [o.dbid] : [],
  );
  const out: ScheduleView[] = [];
  for (const r of rows) {
    const steps: Array<Record<string, unknown>> = await m.query(
      `SELECT * FROM (SELECT * FROM catalog_schedule_step WHERE dbid = $1 AND schedule_id = $2 ORDER BY started_at DESC, correlation_id DESC LIMIT $3) s
       ORDER BY started_at, correlation_id`,
      [r.dbid, r.schedule_id, o.steps ?? 100],
    );
    out.push({
      dbid: num(r.dbid),
      scheduleId: String(r.schedule_id),
      deltaEveryMs: num(r.delta_every_ms),
      cycleMs: num(r.cycle_ms),
      startAt: num(r.start_at),
      status: r.status as ScheduleView['status'],
      ...(r.reason !== null ? { reason: String(r.reason) } : {}),
      cycle: num(r.cycle),
      day: num(r.day),
      definedAt: num(r.defined_at),
      updatedAt: num(r.updated_at),
      steps: steps.map(stepView),
    });
  }
  return out;
}

function stepView(s: Record<string, unknown>): ScheduleStepView {
  return {
    correlationId: String(s.correlation_id),
    cycle: num(s.cycle),
    day: num(s.day),
    step: String(s.step),
    attempt: num(s.attempt),
    commandType: String(s.command_type),
    ...(s.inputs !== null ? { inputs: s.inputs as string[] } : {}),
    output: String(s.output),
    status: s.status as ScheduleStepView['status'],
    ...(s.dsid !== null ? { dsid: String(s.dsid) } : {}),
    ...(s.code !== null ? { code: String(s.code) } : {}),
    ...(s.reason !== null ? { reason: String(s.reason) } : {}),
    ...(s.retry_at !== null ? { retryAt: num(s.retry_at) } : {}),
    dueAt: num(s.due_at),
    startedAt: num(s.started_at),
    ...(s.completed_at !== null ? { completedAt: num(s.completed_at) } : {}),
  };
}
