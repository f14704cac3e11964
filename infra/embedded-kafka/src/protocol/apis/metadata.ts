import type { ApiCodec } from '../api';

/**
 * Metadata (key 3)
 * Request v0: [topics STRING] (empty = all topics)
 * Request v1-v3: [topics STRING] nullable (null = all, empty = none)
 * Request v4-v6: v1 + allow_auto_topic_creation BOOLEAN
 * Response v0: [brokers => node_id INT32 host STRING port INT32]
 *              [topics => error_code INT16 name STRING [partitions => error_code INT16 partition_index INT32
 *                         leader_id INT32 [replica_nodes INT32] [isr_nodes INT32]]]
 * Response v1: brokers + rack NULLABLE_STRING; controller_id INT32 after brokers; topics + is_internal BOOLEAN after name
 * Response v2: cluster_id NULLABLE_STRING between brokers and controller_id
 * Response v3-v4: throttle_time_ms INT32 first
 * Response v5-v6: partitions + [offline_replicas INT32]
 */
export interface MetadataRequest {
  /** null = all topics. */
  readonly topics: string[] | null;
  readonly allowAutoTopicCreation: boolean;
}
export interface MetadataBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}
export interface MetadataPartition {
  readonly errorCode: number;
  readonly partitionIndex: number;
  readonly leaderId: number;
  readonly replicas: number[];
  readonly isr: number[];
}
export interface MetadataTopic {
  readonly errorCode: number;
  readonly name: string;
  readonly partitions: MetadataPartition[];
}
export interface MetadataResponse {
  readonly brokers: MetadataBroker[];
  readonly clusterId: string;
  readonly controllerId: number;
  readonly topics: MetadataTopic[];
}

export const metadataApi: ApiCodec<MetadataRequest, MetadataResponse> = {
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 6,
  decodeRequest(r, v) {
    let topics = r.nullableArray((r) => r.string(), 2);
    if (v === 0 && topics !== null && topics.length === 0) topics = null;
    const allowAutoTopicCreation = v >= 4 ? r.bool() : true;
    return { topics, allowAutoTopicCreation };
  },
  encodeResponse(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.brokers, (w, b) => {
      w.int32(b.nodeId).string(b.host).int32(b.port);
      if (v >= 1) w.nullableString(null);
    });
    if (v >= 2) w.nullableString(res.clusterId);
    if (v >= 1) w.int32(res.controllerId);
    w.array(res.topics, (w, t) => {
      w.int16(t.errorCode).string(t.name);
      if (v >= 1) w.bool(false);
      w.array(t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
        w.array(p.replicas, (w, n) => w.int32(n));
        w.array(p.isr, (w, n) => w.int32(n));
        if (v >= 5) w.array([] as number[], (w, n) => w.int32(n));
      });
    });
  },
};
