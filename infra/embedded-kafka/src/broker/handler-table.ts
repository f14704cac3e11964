import type { Handler } from './context';
import { handleCreatePartitions, handleCreateTopics, handleDeleteRecords, handleDeleteTopics, handleInitProducerId } from './handlers/admin';
import { handleFetch } from './handlers/fetch';
import {
  handleDeleteGroups,
  handleDescribeGroups,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleSyncGroup,
} from './handlers/groups';
import { handleApiVersions, handleFindCoordinator, handleMetadata } from './handlers/metadata';
import { handleListOffsets, handleOffsetCommit, handleOffsetFetch } from './handlers/offsets';
import { handleProduce } from './handlers/produce';
import { handleSaslAuthenticate, handleSaslHandshake } from './handlers/sasl';

/** One handler per API key; the codec for each key is in protocol/api-table.ts. */
export const HANDLERS: ReadonlyMap<number, Handler<any, any>> = new Map<number, Handler<any, any>>([
  [0, handleProduce],
  [1, handleFetch],
  [2, handleListOffsets],
  [3, handleMetadata],
  [8, handleOffsetCommit],
  [9, handleOffsetFetch],
  [10, handleFindCoordinator],
  [11, handleJoinGroup],
  [12, handleHeartbeat],
  [13, handleLeaveGroup],
  [14, handleSyncGroup],
  [15, handleDescribeGroups],
  [16, handleListGroups],
  [17, handleSaslHandshake],
  [18, handleApiVersions],
  [19, handleCreateTopics],
  [20, handleDeleteTopics],
  [21, handleDeleteRecords],
  [22, handleInitProducerId],
  [36, handleSaslAuthenticate],
  [37, handleCreatePartitions],
  [42, handleDeleteGroups],
]);
