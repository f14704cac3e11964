/**
 * `dsf retention`: the data set retention of a database (docs/ARCHITECTURE.md, "Retention").
 *
 *   dsf retention set --dbid N [--keep-saves K] [--keep-days D] | --clear
 *   dsf retention list [--dbid N] [--as-of DATE]
 *
 * `set` sends RetentionSetRequested (the save writer answers RetentionSet, the catalog keeps it);
 * `dsf expire` applies it: the data sets of saves outside it, needed by no kept save, are deleted
 * and the saves shown expired. `list` asks the catalog (GET /retention) what each retention keeps
 * and why, and what would expire now.
 */
import { Option, type Command } from 'commander';
import { CliUsageError, dbidArg, QUERY_TIMEOUT_SEC, timeoutArg, withCommonOptions, type CommonOptions } from '../options';
import type { Outcome } from '../outcome';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import { table } from './report';

const countArg = (flag: string) => (raw: string) => {
  if (!/^[1-9][0-9]{0,6}$/.test(raw) || Number(raw) > 1_000_000) throw new CliUsageError(`${flag}: expected a whole number from 1 to 1000000, got ${JSON.stringify(raw)}`);
  return Number(raw);
};

export interface RetentionRow {
  dbid: number;
  source?: 'set' | 'default';
  rule?: string;
  asOf?: number;
  keep?: Array<{ correlationId: string; dsid: string; path?: string; why: string }>;
  expire?: Array<{ correlationId: string; dsid: string; names: string[]; why: string }>;
  expired?: Array<{ correlationId: string; dsid: string; expiredAt: number; reason: string; names: string[] }>;
}

/** The lines of one database's data set retention (also in `dsf report`). */
export function retentionLines(r: RetentionRow): string[] {
  const lines = [`data set retention: keeps ${r.rule ?? '?'}${r.source === 'default' ? ' (the configured default)' : r.source === 'set' ? ' (dsf retention set)' : ''}, and every save a kept one needs`];
  const keep = r.keep ?? [];
  if (keep.length) lines.push(...table(['KEPT', 'DSID', 'PATH', 'WHY'], keep.map((k) => [k.correlationId, k.dsid, k.path ?? '', k.why])));
  const due = r.expire ?? [];
  if (due.length) lines.push(`  due to expire at the next dsf expire (${due.length}):`, ...table(['SAVE', 'DSID', 'DATA SETS', 'WHY'], due.map((e) => [e.correlationId, e.dsid, e.names.join(' '), e.why])));
  const gone = r.expired ?? [];
  if (gone.length) lines.push(`  expired (${gone.length}):`, ...table(['SAVE', 'DSID', 'WHEN', 'WHY'], gone.map((e) => [e.correlationId, e.dsid, new Date(e.expiredAt).toISOString(), e.reason])));
  return lines;
}

export function renderRetention(body: unknown): Outcome {
  if (!Array.isArray(body)) throw new Error('the catalog answered something that is not a list of retentions');
  const rows = body as RetentionRow[];
  const lines = rows.flatMap((r) => [`database ${r.dbid}`, ...retentionLines(r)]);
  if (rows.length === 0) lines.push('(no database with saves or a retention)');
  return { exitCode: 0, lines, json: { ok: true, command: 'retention list', retentions: rows } };
}

export const retentionCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const group = program.command('retention').summary('the data set retention of a database: set it, list what it keeps');
    const set = group
      .command('set')
      .summary('keep the last K saves and/or the saves of the last D days (dsf expire applies it)')
      .description(
        'Sets the data set retention of database N: saves (and merge outputs) in directory destinations outside it, and needed by no kept save (a delta needs its full save and the earlier deltas), ' +
          'are deleted with their unloaded DSIM by the next `dsf expire`; the catalog shows them expired. Client files on streams expire by their own date. --clear goes back to the configured default.',
      )
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .addOption(new Option('--keep-saves <K>', 'keep the last K saves').argParser(countArg('--keep-saves')).conflicts('clear'))
      .addOption(new Option('--keep-days <D>', 'keep the saves completed in the last D days').argParser(countArg('--keep-days')).conflicts('clear'))
      .option('--clear', 'go back to the configured default (DSF_RETENTION_KEEP_SAVES / DSF_RETENTION_KEEP_DAYS of the catalog)');
    withCommonOptions(set).action((o: CommonOptions & { dbid: number; keepSaves?: number; keepDays?: number; clear?: boolean }) => {
      if (!o.clear && o.keepSaves === undefined && o.keepDays === undefined) throw new CliUsageError('retention set: give --keep-saves K, --keep-days D (or both), or --clear');
      use(
        sendPlan(
          {
            type: 'RetentionSetRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            ...(o.keepSaves !== undefined ? { keepSaves: o.keepSaves } : {}),
            ...(o.keepDays !== undefined ? { keepDays: o.keepDays } : {}),
            ...(o.clear ? { clear: true } : {}),
          },
          o,
        ),
      );
    });

    group
      .command('list')
      .summary('what each data set retention keeps and why, what would expire now, what expired')
      .description('For database N (or every database), from the catalog (GET $CATALOG_URL/retention): the rule, each kept save with the reason, the saves due to expire and those expired.')
      .addOption(new Option('--dbid <N>', 'only this database').argParser(dbidArg))
      .option('--as-of <DATE>', 'ages as of this date (ISO 8601; default now)')
      .option('--json', 'print {ok, retentions: [...]} as one JSON object')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: CommonOptions & { dbid?: number; asOf?: string }) => {
        const q = [o.dbid !== undefined ? `dbid=${o.dbid}` : '', o.asOf ? `asOf=${encodeURIComponent(o.asOf)}` : ''].filter(Boolean).join('&');
        use({ kind: 'query', path: `/retention${q ? `?${q}` : ''}`, json: o.json === true, timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC, render: renderRetention });
      });
  },
};
