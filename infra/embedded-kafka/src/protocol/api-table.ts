import type { ApiCodec } from './api';
import { apiVersionsApi } from './apis/api-versions';
import { createPartitionsApi } from './apis/create-partitions';
import { createTopicsApi } from './apis/create-topics';
import { deleteGroupsApi } from './apis/delete-groups';
import { deleteRecordsApi } from './apis/delete-records';
import { deleteTopicsApi } from './apis/delete-topics';
import { describeGroupsApi } from './apis/describe-groups';
import { fetchApi } from './apis/fetch';
import { findCoordinatorApi } from './apis/find-coordinator';
import { heartbeatApi } from './apis/heartbeat';
import { initProducerIdApi } from './apis/init-producer-id';
import { joinGroupApi } from './apis/join-group';
import { leaveGroupApi } from './apis/leave-group';
import { listGroupsApi } from './apis/list-groups';
import { listOffsetsApi } from './apis/list-offsets';
import { metadataApi } from './apis/metadata';
import { offsetCommitApi } from './apis/offset-commit';
import { offsetFetchApi } from './apis/offset-fetch';
import { produceApi } from './apis/produce';
import { saslAuthenticateApi } from './apis/sasl-authenticate';
import { saslHandshakeApi } from './apis/sasl-handshake';
import { syncGroupApi } from './apis/sync-group';

/**
 * The one table of implemented APIs and version ranges. ApiVersions advertises exactly this.
 * Caps keep every version non-flexible except ApiVersions v3 (librdkafka would otherwise send
 * tagged-field requests), and every min is 0 so librdkafka enables its features.
 * SaslHandshake and SaslAuthenticate are always advertised, as Kafka does; without SASL
 * configured a handshake is answered UNSUPPORTED_SASL_MECHANISM with no mechanisms.
 * Not implemented (answered UNSUPPORTED_VERSION): transactions (24-28), ACLs, configs
 * (32, 33), partition reassignment, and everything newer.
 */
export const API_TABLE: readonly ApiCodec<any, any>[] = [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  saslHandshakeApi,
  apiVersionsApi,
  createTopicsApi,
  deleteTopicsApi,
  deleteRecordsApi,
  initProducerIdApi,
  saslAuthenticateApi,
  createPartitionsApi,
  deleteGroupsApi,
];

export const API_BY_KEY: ReadonlyMap<number, ApiCodec<any, any>> = new Map(API_TABLE.map((a) => [a.key, a]));
