import type { ApiVersionsRequest, ApiVersionsResponse } from '../../protocol/apis/api-versions';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../../protocol/apis/find-coordinator';
import type { MetadataRequest, MetadataResponse, MetadataTopic } from '../../protocol/apis/metadata';
import { API_TABLE } from '../../protocol/api-table';
import { ErrorCode } from '../../protocol/error-codes';
import { isValidTopicName } from '../../storage/log-store';
import type { Handler } from '../context';
import { createTopic } from './topics';

/** ApiVersions: advertises exactly the API table. */
export const handleApiVersions: Handler<ApiVersionsRequest, ApiVersionsResponse> = () => ({
  errorCode: ErrorCode.NONE,
  apiKeys: API_TABLE.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
});

/** Metadata: this node leads every partition; unknown topics are auto-created when allowed. */
export const handleMetadata: Handler<MetadataRequest, MetadataResponse> = (broker, req) => {
  const node = broker.nodeId;
  const describe = (name: string): MetadataTopic => {
    const t = broker.logs.get(name);
    if (!t) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [] };
    return {
      errorCode: ErrorCode.NONE,
      name,
      partitions: t.partitions.map((_, i) => ({ errorCode: 0, partitionIndex: i, leaderId: node, replicas: [node], isr: [node] })),
    };
  };
  let topics: MetadataTopic[];
  if (req.topics === null) {
    topics = broker.logs.list().map((t) => describe(t.name));
  } else {
    topics = req.topics.map((name) => {
      if (!broker.logs.get(name) && req.allowAutoTopicCreation && broker.autoCreateTopics) {
        if (!isValidTopicName(name)) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, name, partitions: [] };
        const r = createTopic(broker, name, -1, -1, [], false);
        if (r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
          return { errorCode: r.errorCode, name, partitions: [] };
        }
      }
      return describe(name);
    });
  }
  return {
    brokers: [{ nodeId: node, host: broker.advertisedHost, port: broker.advertisedPort }],
    clusterId: broker.clusterId,
    controllerId: node,
    topics,
  };
};

/** FindCoordinator: this node coordinates every group (transactions are not supported). */
export const handleFindCoordinator: Handler<FindCoordinatorRequest, FindCoordinatorResponse> = (broker, req) => {
  if (req.keyType !== 0) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 };
  return { errorCode: ErrorCode.NONE, nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort };
};
