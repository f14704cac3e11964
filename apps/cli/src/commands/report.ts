/**
 * `dsf report`: the state of one database's protection, from the catalog (GET /report?dbid=N):
 * what the next delta holds (the DLOG), the DSIM, the saves, merges and restores.
 *
 * The shape dsf expects of the catalog (every part but dbid optional, unknown fields kept in
 * --json and ignored in the text):
 *
 *   { dbid, asOf?: ms,
 *     dlog?: { blocks: {ASSO, DATA}, ranges?: n, lastSyncLsn?: lsn,
 *              marks?: [{file, parts: ['DATA'|'AC'|'INDEX'], extents: [{part, from, to}]}] },
 *     dsim?: {status, dsid, startLsn, endLsn?, blocks?, path?} | null,
 *     saves?: [SaveView as in /saves],
 *     merges?: [{dsid, kind, inputs: [...], path?, blocks, completedAt}],
 *     restores?: [{target, dsid, shadow?, intoDatabase?, blocks, digest?, lineage?, completedAt}] }
 */
import { Option, type Command } from 'commander';
import { dbidArg, QUERY_TIMEOUT_SEC, timeoutArg, type CommonOptions } from '../options';
import type { Outcome } from '../outcome';
import type { CommandGroup, Plan } from '../plan';
import { SAVE_COLUMNS, saveRow, type SaveRow } from './saves';
import { retentionLines, type RetentionRow } from './retention';

interface Extent {
  part: string;
  from: number;
  to: number;
}

export interface CatalogReport {
  dbid: number;
  asOf?: number;
  dlog?: { blocks?: { ASSO?: number; DATA?: number }; ranges?: number; lastSyncLsn?: number; marks?: Array<{ file: number; parts?: string[]; extents?: Extent[] }> };
  dsim?: { status: string; dsid?: string; startLsn?: number; endLsn?: number; blocks?: number; path?: string } | null;
  saves?: SaveRow[];
  merges?: Array<{ dsid: string; kind?: string; inputs?: string[]; path?: string; blocks?: number; completedAt?: number }>;
  restores?: Array<{ target: string; dsid: string; shadow?: boolean; intoDatabase?: boolean; blocks?: number; digest?: string; lineage?: string; completedAt?: number }>;
  retention?: {
    dataSets?: RetentionRow;
    topics?: Array<{ topic: string; partition: number; logStart: number; end: number; cutBy?: string; readers?: Array<{ group: string; offset: number }> }> | { error: string };
  };
}

const when = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** Aligned columns (the header and rows as given). */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ')}`.trimEnd());
}

export function renderReport(dbid: number, body: unknown): Outcome {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the catalog answered something that is not a report');
  const r = body as CatalogReport;
  const lines: string[] = [`database ${r.dbid ?? dbid}${r.asOf !== undefined ? ` (as of ${when(r.asOf)})` : ''}`];

  if (r.dlog) {
    const asso = r.dlog.blocks?.ASSO ?? 0;
    const data = r.dlog.blocks?.DATA ?? 0;
    lines.push(`DLOG: ${asso + data} blocks changed since the last save (ASSO ${asso}, DATA ${data})${r.dlog.ranges !== undefined ? ` in ${r.dlog.ranges} ranges` : ''}${r.dlog.lastSyncLsn !== undefined ? `; last sync LSN ${r.dlog.lastSyncLsn}` : ''}`);
    for (const m of r.dlog.marks ?? []) {
      const extents = (m.extents ?? []).map((x) => `${x.part} ${x.from}-${x.to}`);
      lines.push(`  file ${m.file} marked by a utility: ${[...(m.parts ?? []).map((p) => `all ${p}`), ...extents].join(', ') || 'nothing'}`);
    }
  } else lines.push('DLOG: (not reported)');

  if (r.dsim) {
    const d = r.dsim;
    lines.push(`DSIM: ${d.status}${d.dsid ? ` for ${d.dsid}` : ''}${d.startLsn !== undefined ? `, LSN ${d.startLsn}..${d.endLsn ?? ''}` : ''}${d.blocks !== undefined ? `, ${d.blocks} blocks` : ''}${d.path ? `, unloaded to ${d.path}` : ''}`);
  } else lines.push('DSIM: free');

  const saves = r.saves ?? [];
  lines.push(`saves (${saves.length}):`);
  if (saves.length > 0) lines.push(...table(SAVE_COLUMNS, saves.map(saveRow)));

  const merges = r.merges ?? [];
  lines.push(`merges (${merges.length}):`);
  if (merges.length > 0)
    lines.push(...table(['DSID', 'KIND', 'BLOCKS', 'WHEN', 'PATH', 'INPUTS'], merges.map((m) => [m.dsid, m.kind ?? '', String(m.blocks ?? ''), when(m.completedAt), m.path ?? '', (m.inputs ?? []).join(' ')])));

  const restores = r.restores ?? [];
  lines.push(`restores (${restores.length}):`);
  if (restores.length > 0)
    lines.push(
      ...table(
        ['TARGET', 'DSID', 'INTO', 'BLOCKS', 'WHEN', 'DIGEST'],
        restores.map((x) => [x.target, x.dsid, x.intoDatabase ? 'database' : x.shadow ? 'shadow' : 'restores/', String(x.blocks ?? ''), when(x.completedAt), x.digest ?? '']),
      ),
    );
  if (r.retention) lines.push(...reportRetention(r.retention));
  return { exitCode: 0, lines, json: { ok: true, command: 'report', ...r, dbid: r.dbid ?? dbid } };
}

/** What each retention keeps and why: the topics of the database's partition, then its data sets. */
function reportRetention(ret: NonNullable<CatalogReport['retention']>): string[] {
  const lines: string[] = ['retention:'];
  const t = ret.topics;
  if (t && !Array.isArray(t)) lines.push(`  topics: not known (${t.error})`);
  else if (t)
    for (const x of t) {
      const holders = (x.readers ?? []).map((g) => `${g.group} at ${g.offset}`).join(', ');
      lines.push(`  ${x.topic}[${x.partition}]: keeps offsets ${x.logStart}..${x.end} (${x.end - x.logStart} records); cut by ${x.cutBy ?? '?'}${holders ? `; readers: ${holders}` : ''}`);
    }
  if (ret.dataSets) lines.push(...retentionLines(ret.dataSets).map((l) => `  ${l}`));
  return lines;
}

export const reportCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    program
      .command('report')
      .summary('the protection state of a database (from the catalog)')
      .description('What the next delta holds (the DLOG and utility marks), the DSIM, the saves, merges and restores of database N, from the catalog (GET $CATALOG_URL/report?dbid=N).')
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .option('--json', 'print the catalog\'s report as one JSON object (with ok and command added)')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: CommonOptions & { dbid: number }) =>
        use({ kind: 'query', path: `/report?dbid=${o.dbid}`, json: o.json === true, timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC, render: (body) => renderReport(o.dbid, body) }),
      );
  },
};
