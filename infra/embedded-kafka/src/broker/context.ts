import type { AuthConfig, SaslSession } from '../auth/sasl-session';
import type { GroupCoordinator } from '../groups/coordinator';
import type { GroupStore } from '../storage/group-store';
import type { GroupCommitFlusher } from '../storage/flusher';
import type { LogStore } from '../storage/log-store';

/** fsync policy; documented on EmbeddedKafkaOptions in broker/embedded.ts and in main.ts. */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/** Everything a handler may use: the storage interfaces and the broker settings. */
export interface BrokerContext {
  readonly nodeId: number;
  /** Host and port advertised in Metadata and FindCoordinator. */
  readonly advertisedHost: string;
  advertisedPort: number;
  readonly clusterId: string;
  readonly logs: LogStore;
  readonly groupStore: GroupStore;
  readonly groups: GroupCoordinator;
  readonly flusher: GroupCommitFlusher;
  readonly fsync: FsyncPolicy;
  readonly defaultPartitions: number;
  readonly autoCreateTopics: boolean;
  readonly now: () => number;
  readonly log: (level: string, msg: string) => void;
  /** Allocates idempotent-producer ids (persisted high-water mark). */
  readonly nextProducerId: () => number;
  /** SASL settings; null: no authentication (every connection is anonymous). */
  readonly auth: AuthConfig | null;
}

/** Per-connection facts. */
export interface ConnectionContext {
  /** The connection's SASL state; null when SASL is off. */
  readonly session: SaslSession | null;
  readonly tls: boolean;
}

/** Per-request facts from the connection. */
export interface RequestContext {
  readonly version: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** Aborted when the client's connection closes (ends long-poll waits early). */
  readonly signal: AbortSignal;
  readonly connection: ConnectionContext;
  /** Asks the server to close the connection once this request's response is sent. */
  closeAfterResponse(): void;
}

/** Marker for requests that get no response (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no-response');

export type Handler<Req, Res> = (broker: BrokerContext, req: Req, ctx: RequestContext) => Res | typeof NO_RESPONSE | Promise<Res | typeof NO_RESPONSE>;
