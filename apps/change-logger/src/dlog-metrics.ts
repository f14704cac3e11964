/**
 * The DLOG's size as gauges, read from the ChangeLog when scraped (GET /metrics): live blocks per
 * database and area (what the next delta save holds), files with utility marks, closed segments.
 */
import { dlogSummary, type ChangeLog, type ProtectedDatabase } from '@deltaflow/dlog';
import { registerGauges, type Sample } from '@deltaflow/service-kit';

/** Registers the gauges; returns the function that removes them (when the service stops). */
export function registerDlogMetrics(changeLog: ChangeLog, databases: readonly ProtectedDatabase[]): () => void {
  const summaries = () => databases.flatMap((d) => {
    const state = changeLog.state(d.dbid);
    return state ? [dlogSummary(state)] : [];
  });
  return registerGauges({
    deltaflow_dlog_blocks: {
      help: 'Blocks in the live DLOG (every segment), per database and area: what the next delta save holds',
      labelNames: ['dbid', 'area'],
      read: () => summaries().flatMap((s): Sample[] => [[{ dbid: s.dbid, area: 'ASSO' }, s.live.ASSO], [{ dbid: s.dbid, area: 'DATA' }, s.live.DATA]]),
    },
    deltaflow_dlog_marked_files: {
      help: 'Files with live utility marks in the DLOG, per database',
      labelNames: ['dbid'],
      read: () => summaries().map((s): Sample => [{ dbid: s.dbid }, s.markedFiles.length]),
    },
    deltaflow_dlog_segments: {
      help: 'Closed DLOG segments (cut at sync points), per database',
      labelNames: ['dbid'],
      read: () => summaries().map((s): Sample => [{ dbid: s.dbid }, s.segments]),
    },
  });
}
