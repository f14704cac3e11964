/**
 * nucleus.commands: requests to the upstream database engine. Key: dbid.
 * SyncRequested is answered by an EtSync with the same syncId on dsf.block-changes.
 */
import { dbid, id } from '../common';
import { defineMessage } from '../define';
import { optional } from '../schema';

export const SyncRequested = defineMessage({
  type: 'SyncRequested',
  version: 1,
  topic: 'nucleus.commands',
  fields: { dbid: dbid(), syncId: id(), correlationId: optional(id()) },
});

export const NUCLEUS_COMMAND_MESSAGES = [SyncRequested] as const;
