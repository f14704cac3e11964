import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/apis/delete-groups';
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/apis/describe-groups';
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/apis/heartbeat';
import type { JoinGroupRequest, JoinGroupResponse } from '../../protocol/apis/join-group';
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/apis/leave-group';
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/apis/list-groups';
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/apis/sync-group';
import { ErrorCode } from '../../protocol/error-codes';
import type { Handler } from '../context';

/** JoinGroup: parked by the coordinator until the rebalance completes. */
export const handleJoinGroup: Handler<JoinGroupRequest, JoinGroupResponse> = (broker, req, ctx) =>
  broker.groups.join(req, { clientId: ctx.clientId, clientHost: ctx.clientHost, version: ctx.version });

/** SyncGroup: followers are parked until the leader's assignment arrives. */
export const handleSyncGroup: Handler<SyncGroupRequest, SyncGroupResponse> = (broker, req) => broker.groups.sync(req);

export const handleHeartbeat: Handler<HeartbeatRequest, HeartbeatResponse> = (broker, req) => ({
  errorCode: broker.groups.heartbeat(req.groupId, req.memberId, req.generationId),
});

export const handleLeaveGroup: Handler<LeaveGroupRequest, LeaveGroupResponse> = (broker, req) => {
  const members = req.members.map((m) => ({ ...m, errorCode: broker.groups.leave(req.groupId, m.memberId) }));
  return { errorCode: ErrorCode.NONE, members };
};

export const handleDescribeGroups: Handler<DescribeGroupsRequest, DescribeGroupsResponse> = (broker, req) => ({
  groups: req.groups.map((g) => broker.groups.describe(g)),
});

export const handleListGroups: Handler<ListGroupsRequest, ListGroupsResponse> = (broker) => ({
  errorCode: ErrorCode.NONE,
  groups: broker.groups.list(),
});

export const handleDeleteGroups: Handler<DeleteGroupsRequest, DeleteGroupsResponse> = async (broker, req) => {
  const results = req.groupNames.map((g) => ({ groupId: g, errorCode: broker.groups.deleteGroup(g) }));
  broker.flusher.markDirty(broker.groupStore);
  await broker.flusher.flush();
  return { results };
};
