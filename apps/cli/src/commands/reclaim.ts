/**
 * Reclamation, from `dsf` (TSM's reclamation):
 *   dsf volumes reclaim --threshold P [--stream S] [--dry-run] [--json]
 * Every finished volume whose live runs (closed, unexpired client files) take less than P % of it
 * has them copied onto its stream's current volume and goes back to scratch; expired files' runs
 * stay behind. The command (VolumeReclaim) goes on sov.commands keyed by each stream (the one named,
 * or every stream the catalog knows volumes of), so the multiplexer instance serving it copies; the
 * answer is its VolumesReclaimed on sov.events. `--dry-run` lists the candidates only. Exit 0 when
 * every candidate was reclaimed, 1 when one failed or the multiplexer refused, 3 when no answer came.
 */
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { MessageOfType } from '@deltaflow/contracts';
import { CliUsageError, streamArg, timeoutArg } from '../options';
import type { Json, Outcome } from '../outcome';
import type { Plan } from '../plan';
import { catalogGet, run, sovCommand } from './streams';

const RECLAIM_TIMEOUT_SEC = 3600;

export const thresholdArg = (v: string): number => {
  const n = Number(v.trim().replace(/%$/, ''));
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new CliUsageError(`--threshold: expected a whole percentage 1..100 (volumes with less live data than this are reclaimed), got "${v}"`);
  return n;
};

/** Lines of one stream's outcome. */
export function reclaimLines(e: MessageOfType<'VolumesReclaimed'>): string[] {
  const lines: string[] = [];
  const pct = (v: { liveBytes: number; size: number }) => `${v.size > 0 ? Math.round((v.liveBytes / v.size) * 10_000) / 100 : 0} % live`;
  if (e.volumes.length === 0) lines.push(`stream ${e.stream}: no volume below ${e.thresholdPercent} % live`);
  for (const v of e.volumes) {
    if (v.outcome === 'candidate') lines.push(`stream ${e.stream}: volume ${v.volser} would be reclaimed (${pct(v)}, ${v.runs} live run${v.runs === 1 ? '' : 's'} to move)`);
    else if (v.outcome === 'scratched') lines.push(`stream ${e.stream}: volume ${v.volser} reclaimed (${pct(v)}): ${v.moved} live run${v.moved === 1 ? '' : 's'} moved, returned to scratch`);
    else lines.push(`stream ${e.stream}: volume ${v.volser} NOT reclaimed (${v.moved} of ${v.runs} runs moved): ${v.reason ?? ''}`);
  }
  for (const s of e.skipped) lines.push(`  ${s.volser} left alone: ${s.reason}`);
  return lines;
}

export function registerReclaim(volumes: Command, use: (plan: Plan) => void): void {
  volumes
    .command('reclaim')
    .summary('copy the live runs of mostly-expired volumes onto the current one and return them to scratch')
    .requiredOption('--threshold <P>', 'reclaim finished volumes whose live data is below P % of them', thresholdArg)
    .addOption(new Option('--stream <NAME>', 'only this stream (default: every stream with volumes)').argParser(streamArg('--stream')))
    .option('--dry-run', 'only list the volumes that would be reclaimed')
    .option('--json', 'print one JSON object with the outcome (the VolumesReclaimed events)')
    .addOption(new Option('--timeout <SEC>', `give up after SEC seconds per stream (default ${RECLAIM_TIMEOUT_SEC})`).argParser(timeoutArg))
    .action((o: { threshold: number; stream?: string; dryRun?: boolean; json?: boolean; timeout?: number }) =>
      use(
        run('volumes reclaim', o.json, async (ctx): Promise<Outcome> => {
          const vols = await catalogGet<Array<{ volser: string; stream: string; state: string }>>(ctx, '/volumes');
          let streams = [...new Set(vols.map((v) => v.stream))].sort();
          if (o.stream) {
            const defined = await catalogGet<Array<{ stream: string }>>(ctx, '/streams');
            if (!defined.some((s) => s.stream === o.stream)) return { exitCode: 1, lines: [`volumes reclaim refused: the catalog knows no stream ${o.stream}`], json: { ok: false, command: 'volumes reclaim', code: 'NOT_FOUND', error: `no stream ${o.stream}` } };
            streams = [o.stream];
          }
          const lines: string[] = [];
          const outcomes: Json[] = [];
          let exitCode: Outcome['exitCode'] = 0;
          for (const stream of streams) {
            const correlationId = `cli-${randomUUID()}`;
            const out = await sovCommand(
              ctx,
              { type: 'VolumeReclaim', stream, thresholdPercent: o.threshold, ...(o.dryRun ? { dryRun: true } : {}), correlationId },
              (e): Outcome | undefined => (e.type === 'VolumesReclaimed' && e.correlationId === correlationId ? { exitCode: e.ok ? 0 : 1, lines: reclaimLines(e), json: { ...e } } : undefined),
              o.timeout ?? RECLAIM_TIMEOUT_SEC,
              'volumes reclaim',
            );
            lines.push(...out.lines);
            outcomes.push(out.json);
            exitCode = Math.max(exitCode, out.exitCode) as Outcome['exitCode'];
          }
          if (streams.length === 0) lines.push('no volumes: nothing to reclaim');
          return { exitCode, lines, json: { ok: exitCode === 0, command: 'volumes reclaim', threshold: o.threshold, dryRun: o.dryRun === true, streams: outcomes } };
        }),
      ),
    );
}
