/** `dsf saves list`: the saves of a database, from the catalog (GET /saves?dbid=N). */
import { Option, type Command } from 'commander';
import { dbidArg, QUERY_TIMEOUT_SEC, timeoutArg, type CommonOptions } from '../options';
import type { CommandGroup, Plan } from '../plan';
import type { Outcome } from '../outcome';

/** One save as the catalog lists it (apps/catalog SaveView). */
export interface SaveRow {
  dsid: string | null;
  origin?: 'save' | 'merge';
  kind?: 'full' | 'delta';
  online?: boolean;
  status: string;
  blocks?: number;
  path?: string;
  reason?: string;
  [field: string]: unknown;
}

export const SAVE_COLUMNS = ['DSID', 'KIND', 'ONLINE', 'STATUS', 'BLOCKS', 'PATH / REASON'];

export function saveRow(s: SaveRow): string[] {
  const expired = typeof s.expiredAt === 'number';
  const status = expired ? 'expired' : s.status;
  const where = expired ? `${s.path ?? ''} (expired ${new Date(s.expiredAt as number).toISOString()}: ${String(s.expiryReason ?? '')})` : (s.path ?? s.reason ?? '');
  return [s.dsid ?? '-', s.kind ?? '', s.online === undefined ? '' : s.online ? 'online' : 'offline', status, s.blocks ?? '', where].map(String);
}

export function renderSaves(dbid: number, body: unknown): Outcome {
  if (!Array.isArray(body)) throw new Error('the catalog answered something that is not a list of saves');
  const saves = body as SaveRow[];
  const lines = [SAVE_COLUMNS.join('\t'), ...saves.map((s) => saveRow(s).join('\t'))];
  if (saves.length === 0) lines.push(`(no saves of database ${dbid})`);
  return { exitCode: 0, lines, json: { ok: true, command: 'saves list', dbid, saves } };
}

export const savesCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const saves = program.command('saves').summary('list the saves of a database (from the catalog)');
    saves
      .command('list')
      .summary('list the saves of a database')
      .description('Lists the saves and merges of database N as the catalog knows them (GET $CATALOG_URL/saves?dbid=N), tab-separated.')
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .option('--json', 'print {ok, dbid, saves: [...]} as one JSON object')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: CommonOptions & { dbid: number }) =>
        use({ kind: 'query', path: `/saves?dbid=${o.dbid}`, json: o.json === true, timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC, render: (body) => renderSaves(o.dbid, body) }),
      );
  },
};
