/**
 * Retention of data sets in directory destinations (issue 13, "Files"; libs/save-chain
 * dataSetRetention). Key: dbid.
 *
 * - RetentionSetRequested (dsf.commands, `dsf retention set`): the policy of one database: keep
 *   the last `keepSaves` saves and/or those younger than `keepDays` days; neither (with `clear`)
 *   goes back to the configured default. The save writer answers with RetentionSet on dsf.events
 *   (the catalog folds it; `dsf retention list`, `dsf report`).
 * - DataSetExpireRequested (dsf.commands, sent by the catalog when `dsf expire` runs): one save
 *   (its correlation id and DSID) whose data sets `names` (the save's, its unloaded DSIM's) expire,
 *   with the retention's reason. The save writer deletes the files (a file already gone is fine)
 *   and publishes DataSetExpired; the catalog shows the save expired, the DSIM builder lets the
 *   save's rows go, the merge engine refuses a restore or merge from it (DATA_SET_EXPIRED).
 */
import { dbid, DsidSchema, id, name, text, timestamp } from '../common';
import { defineMessage } from '../define';
import { array, boolean, optional, posint } from '../schema';

const keep = () => optional(posint(1_000_000));
const names = () => array(name(), { maxLength: 16 });

export const RetentionSetRequested = defineMessage({
  type: 'RetentionSetRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), keepSaves: keep(), keepDays: keep(), clear: optional(boolean()) },
});

export const RetentionSet = defineMessage({
  type: 'RetentionSet',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), keepSaves: keep(), keepDays: keep(), occurredAt: timestamp() },
});

export const DataSetExpireRequested = defineMessage({
  type: 'DataSetExpireRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), save: id(), dsid: DsidSchema, names: names(), reason: text(), asOf: timestamp() },
});

export const DataSetExpired = defineMessage({
  type: 'DataSetExpired',
  version: 1,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    /** the correlation id of the save (or merge) whose data sets expired */
    save: id(),
    dsid: DsidSchema,
    /** the data sets deleted (or already gone) */
    names: names(),
    reason: text(),
    occurredAt: timestamp(),
  },
});

export const RETENTION_COMMAND_MESSAGES = [RetentionSetRequested, DataSetExpireRequested] as const;
export const RETENTION_EVENT_MESSAGES = [RetentionSet, DataSetExpired] as const;
