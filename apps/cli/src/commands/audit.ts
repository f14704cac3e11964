/**
 * The auditor's commands, answered by the catalog (each folds the log itself, so they take a
 * while on a long history: default timeout 600 s):
 *
 *   dsf catalog at --offset N [--sov-offset M] | --time T  [--dbid N] [--json]   GET /at
 *   dsf catalog verify [--json]                                                   GET /verify (exit 1 on a difference)
 *   dsf history DSID|NAME [--json]                                                GET /history?subject=
 */
import { Option, type Command } from 'commander';
import { CliUsageError, dbidArg, timeoutArg } from '../options';
import type { CommandGroup, Plan } from '../plan';
import type { Outcome } from '../outcome';
import { SAVE_COLUMNS, saveRow, type SaveRow } from './saves';

const AUDIT_TIMEOUT_SEC = 600;
const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

function offsetArg(name: string) {
  return (v: string) => {
    if (!OFFSET.test(v)) throw new CliUsageError(`${name}: expected a non-negative integer offset, got "${v}"`);
    return v;
  };
}

function timeArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(Date.parse(v))) throw new CliUsageError(`--time: expected an ISO 8601 date-time, got "${v}"`);
  return new Date(Date.parse(v)).toISOString();
}

function object(body: unknown, what: string): Record<string, any> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`the catalog answered something that is not ${what}`);
  return body as Record<string, any>;
}

export function renderAt(body: unknown): Outcome {
  const b = object(body, 'a state');
  if (typeof b.digest !== 'string' || typeof b.asOf !== 'object' || !Array.isArray(b.saves)) throw new Error('the catalog answered something that is not a state');
  const a = b.asOf as { eventsOffset: number | null; sovOffset: number | null; time: string | null; positions: Record<string, Record<string, number>>; records: number };
  const lines = [
    `as of ${a.eventsOffset !== null ? `dsf.events offset ${a.eventsOffset}${a.sovOffset !== null ? `, sov.events offset ${a.sovOffset}` : ''}` : 'time'} (time cut ${a.time ?? '-'}): ${a.records} records`,
    `positions: ${Object.entries(a.positions)
      .map(([t, ps]) => `${t}[${Object.entries(ps).map(([p, n]) => `${p}:${n}`).join(' ')}]`)
      .join(' ')}`,
    `digest ${b.digest}`,
    '',
    ['DBID', ...SAVE_COLUMNS].join('\t'),
    ...(b.saves as SaveRow[]).map((s) => [String(s.dbid ?? ''), ...saveRow(s)].join('\t')),
    '',
    `dsims ${b.dsims?.length ?? 0}, lineages ${b.lineages?.length ?? 0}, restores ${b.restores?.length ?? 0}, streams ${b.streams?.length ?? 0}, volumes ${b.volumes?.length ?? 0}, client files ${b.clientFiles?.length ?? 0} (--json for every row)`,
  ];
  return { exitCode: 0, lines, json: { ok: true, command: 'catalog at', ...b } };
}

export function renderVerify(body: unknown): Outcome {
  const b = object(body, 'a verification');
  if (typeof b.ok !== 'boolean' || typeof b.live?.digest !== 'string' || typeof b.replay?.digest !== 'string') throw new Error('the catalog answered something that is not a verification');
  const lines = [`live digest   ${b.live.digest}`, `replay digest ${b.replay.digest} (${b.replay.records} records from offset 0)`];
  const d = b.difference as { table: string; key: Record<string, unknown>; column: string | null; live: unknown; replay: unknown } | null;
  if (d) lines.push(`first difference: ${d.table} ${JSON.stringify(d.key)} ${d.column === null ? `row only ${d.live === null ? 'in the replay' : 'in the live catalog'}` : `column ${d.column}: live ${JSON.stringify(d.live)}, replay ${JSON.stringify(d.replay)}`}`);
  const chain = b.chain as { checked: number; unchained: number; cut?: number; problems: Array<{ topic: string; partition: number; offset: number; problem: string; detail: string }> };
  lines.push(`hash chain: ${chain.checked} records checked${chain.unchained ? `, ${chain.unchained} applied before the chain existed` : ''}${chain.cut ? `, ${chain.cut} below dsf.dlog's log start (cut by retention after its DLOG snapshots)` : ''}`);
  for (const p of chain.problems) lines.push(`  ${p.problem} at ${p.topic}[${p.partition}] offset ${p.offset}: ${p.detail}`);
  lines.push(b.ok ? 'verified: the live catalog is what the log says' : 'NOT verified');
  return { exitCode: b.ok ? 0 : 1, lines, json: { command: 'catalog verify', ...b } };
}

export function renderHistory(subject: string, body: unknown): Outcome {
  const b = object(body, 'a history');
  if (!Array.isArray(b.events)) throw new Error('the catalog answered something that is not a history');
  const events = b.events as Array<{ topic: string; partition: number; offset: number; time: string; type: string; event: unknown }>;
  const lines = ['TIME\tTOPIC[PARTITION]@OFFSET\tTYPE\tEVENT', ...events.map((e) => [e.time, `${e.topic}[${e.partition}]@${e.offset}`, e.type, JSON.stringify(e.event)].join('\t'))];
  if (events.length === 0) lines.push(`(no event concerns ${subject})`);
  return { exitCode: 0, lines, json: { ok: true, command: 'history', subject, events } };
}

const timeout = () => new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${AUDIT_TIMEOUT_SEC})`).argParser(timeoutArg);

export const auditCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    // `dsf catalog` exists already (streams.ts: backup, restore, scan)
    const catalog = program.commands.find((c) => c.name() === 'catalog') ?? program.command('catalog');
    catalog
      .command('at')
      .summary("the catalog's state at a past point: an offset of dsf.events (and sov.events) or a time")
      .description(
        'Folds the log up to the point into a scratch schema (dropped after) and prints the state and its digest (GET $CATALOG_URL/at). ' +
          '--offset N: dsf.events records at offsets <= N of every partition; --sov-offset M likewise for sov.events; topics without an offset are cut at the append time of the latest dsf.events record applied. ' +
          '--time T: every topic, each partition up to its last record appended at or before T.',
      )
      .addOption(new Option('--offset <N>', 'dsf.events offset (inclusive, every partition)').argParser(offsetArg('--offset')).conflicts('time'))
      .addOption(new Option('--sov-offset <M>', 'sov.events offset (inclusive, every partition); needs --offset').argParser(offsetArg('--sov-offset')))
      .addOption(new Option('--time <T>', 'a time (ISO 8601)').argParser(timeArg))
      .addOption(new Option('--dbid <N>', 'only this database').argParser(dbidArg))
      .option('--json', 'print the whole state as one JSON object')
      .addOption(timeout())
      .action((o: { offset?: string; sovOffset?: string; time?: string; dbid?: number; json?: boolean; timeout?: number }) => {
        if (o.offset === undefined && o.time === undefined) throw new CliUsageError('catalog at: give --offset N (with --sov-offset M) or --time T');
        if (o.sovOffset !== undefined && o.offset === undefined) throw new CliUsageError('--sov-offset: needs --offset');
        const q = new URLSearchParams({
          ...(o.offset !== undefined ? { offset: o.offset } : {}),
          ...(o.sovOffset !== undefined ? { sovOffset: o.sovOffset } : {}),
          ...(o.time !== undefined ? { time: o.time } : {}),
          ...(o.dbid !== undefined ? { dbid: String(o.dbid) } : {}),
        });
        use({ kind: 'query', path: `/at?${q}`, json: o.json === true, timeoutSec: o.timeout ?? AUDIT_TIMEOUT_SEC, render: renderAt });
      });
    catalog
      .command('verify')
      .summary('replay from offset 0 and compare with the live catalog; check the hash chain (exit 1 on a difference)')
      .description('Replays every topic partition up to the live catalog\'s position into a scratch schema, compares the two states (both digests, the first difference: table, key, column) and checks the log against the hash chain the catalog recorded (a changed or removed record, with its offset). GET $CATALOG_URL/verify.')
      .option('--json', 'print the verification as one JSON object')
      .addOption(timeout())
      .action((o: { json?: boolean; timeout?: number }) => use({ kind: 'query', path: '/verify', json: o.json === true, timeoutSec: o.timeout ?? AUDIT_TIMEOUT_SEC, render: renderVerify }));
    program
      .command('history')
      .summary('every event concerning one save, data set or client file, in order, with topic, partition and offset')
      .description('SUBJECT: a DSID (as dsf saves list prints it), a data set or client file name, a correlation id or an incarnation. GET $CATALOG_URL/history?subject=SUBJECT.')
      .argument('<SUBJECT>', 'DSID or NAME')
      .option('--json', 'print {ok, subject, events: [...]} as one JSON object')
      .addOption(timeout())
      .action((subject: string, o: { json?: boolean; timeout?: number }) => {
        if (!/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/.test(subject)) throw new CliUsageError(`history: expected a DSID or a name (1-200 of A-Z a-z 0-9 . _ : / @ + -), got "${subject}"`);
        use({ kind: 'query', path: `/history?subject=${encodeURIComponent(subject)}`, json: o.json === true, timeoutSec: o.timeout ?? AUDIT_TIMEOUT_SEC, render: (b) => renderHistory(subject, b) });
      });
  },
};
