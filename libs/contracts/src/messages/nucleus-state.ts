/**
 * dsf.nucleus-state: the latest nucleus state of each database, kept apart from
 * dsf.block-changes so that the block changes can be truncated (docs/ARCHITECTURE.md,
 * "Retention"). Key: dbid. The change logger (dsf.block-changes' consumer of record) republishes
 * every NucleusState it accepts here before it commits the record's offset, so whatever the
 * retention deletes from dsf.block-changes, the state it carried is here. Readers fold it like
 * NucleusState (the highest LSN wins), then read what is left of dsf.block-changes. The topic
 * holds one record per start or stop of a nucleus: small, kept whole (on a real Kafka it may be
 * compacted by key; the embedded broker has no compactor).
 */
import { dbid, lsn, timestamp } from '../common';
import { defineMessage } from '../define';
import { boolean } from '../schema';

export const NucleusStateRecorded = defineMessage({
  type: 'NucleusStateRecorded',
  version: 1,
  topic: 'dsf.nucleus-state',
  fields: { dbid: dbid(), lsn: lsn(), active: boolean(), at: timestamp() },
});

export const NUCLEUS_STATE_MESSAGES = [NucleusStateRecorded] as const;
