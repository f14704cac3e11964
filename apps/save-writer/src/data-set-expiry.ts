/**
 * The save writer's part of the data set retention (docs/ARCHITECTURE.md, "Retention"): it is
 * the service that writes data sets into directory destinations, so it is the one that deletes
 * them. Which saves expire is decided by the catalog with @deltaflow/save-chain dataSetRetention
 * (`dsf expire`), which sends one DataSetExpireRequested per save; this answers it:
 *
 * - every named data set that still exists must be of the save's database and DSID (its header
 *   says so): otherwise nothing is deleted and the command is refused (CommandRejected);
 * - the files are deleted (one already gone is fine: a redelivered command deletes nothing and
 *   tells DataSetExpired again, which the catalog folds once);
 * - DataSetExpired {save, dsid, names, reason} goes on dsf.events for the catalog, the DSIM
 *   builder (the save's rows) and the merge engine (restores from it are refused).
 *
 * RetentionSetRequested (`dsf retention set`) is answered with RetentionSet: the policy is a fact
 * on dsf.events that the catalog folds (and applies at the next `dsf expire`).
 */
import * as fs from 'node:fs';
import type { AnyMessage, MessageOfType } from '@deltaflow/contracts';
import { formatDsid, sameDsid } from '@deltaflow/dsid';
import { dataSetPath, readSaveHeader } from '@deltaflow/save-format';

export interface ExpiryDeps {
  readonly dataDir: string;
  readonly now: () => number;
  readonly log: (m: string) => void;
  readonly publish: (...m: AnyMessage[]) => Promise<void>;
}

async function reject(d: ExpiryDeps, c: { type: string; correlationId: string; dbid: number }, code: string, reason: string, field?: string): Promise<void> {
  d.log(`${c.type} ${c.correlationId} refused: ${code}: ${reason}`);
  await d.publish({ type: 'CommandRejected', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, code, reason, ...(field ? { field } : {}), occurredAt: d.now() });
}

export async function onDataSetExpireRequested(d: ExpiryDeps, c: MessageOfType<'DataSetExpireRequested'>): Promise<void> {
  const files: Array<{ name: string; file: string }> = [];
  for (const name of c.names) {
    let file: string;
    try {
      file = dataSetPath(d.dataDir, name);
    } catch (e) {
      return reject(d, c, 'VALIDATION', (e as Error).message, 'names');
    }
    if (!fs.existsSync(file)) continue; // already gone: nothing to check, nothing to delete
    try {
      const h = await readSaveHeader(file);
      if (h.dbid !== c.dbid || !sameDsid(h.dsid, c.dsid))
        return reject(d, c, 'DATA_SET_MISMATCH', `data set ${name} is of database ${h.dbid}, DSID ${formatDsid(h.dsid)}, not of the expiring save ${c.save} (database ${c.dbid}, DSID ${formatDsid(c.dsid)}): nothing deleted`, 'names');
    } catch (e) {
      return reject(d, c, 'DATA_SET_UNREADABLE', `data set ${name} cannot be read (${(e as Error).message}): nothing deleted`, 'names');
    }
    files.push({ name, file });
  }
  for (const f of files) fs.rmSync(f.file, { force: true });
  d.log(`data sets of save ${c.save} (database ${c.dbid}, ${formatDsid(c.dsid)}) expired: ${files.length ? files.map((f) => f.name).join(', ') : 'already gone'}; ${c.reason}`);
  await d.publish({ type: 'DataSetExpired', correlationId: c.correlationId, dbid: c.dbid, save: c.save, dsid: c.dsid, names: [...c.names], reason: c.reason, occurredAt: d.now() });
}

export async function onRetentionSetRequested(d: ExpiryDeps, c: MessageOfType<'RetentionSetRequested'>): Promise<void> {
  if (c.clear && (c.keepSaves !== undefined || c.keepDays !== undefined)) return reject(d, c, 'VALIDATION', 'clear goes back to the configured default: give it without keepSaves or keepDays', 'clear');
  if (!c.clear && c.keepSaves === undefined && c.keepDays === undefined) return reject(d, c, 'VALIDATION', 'a retention keeps saves by count (keepSaves), by age (keepDays) or both; clear goes back to the default', 'keepSaves');
  await d.publish({
    type: 'RetentionSet',
    correlationId: c.correlationId,
    dbid: c.dbid,
    ...(c.keepSaves !== undefined ? { keepSaves: c.keepSaves } : {}),
    ...(c.keepDays !== undefined ? { keepDays: c.keepDays } : {}),
    occurredAt: d.now(),
  });
}
