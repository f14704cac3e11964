/**
 * The rows the console shows, as the catalog's HTTP API answers them (`/saves`, `/dsims`,
 * `/lineages`, `/restores`, `/report`'s dlog, `/streams`, `/volumes`, `/client-files`, the
 * placements' runs) and as its `GET /at` answers them for a past point: the same shapes, typed by
 * the catalog API's one home (`@deltaflow/catalog-api`, types only: nothing of it is
 * bundled into the page).
 */
import type { ClientFileView, DlogView, DsimView, LineageView, RestoreView, RetentionView, SaveView, StreamView, VolumeView } from '@deltaflow/catalog-api';

export type SaveRow = SaveView;

export type DsimRow = DsimView;

export type LineageRow = LineageView;

/** `dbid` is absent in the live `/restores?dbid=N` rows (the console adds it) */
export type RestoreRow = RestoreView & { dbid?: number };

export type DlogRow = DlogView;

export type RetentionRow = RetentionView;

export type StreamRow = StreamView;

export type VolumeRow = VolumeView;

export type ClientFileRow = ClientFileView;

/** One run of a client file on a volume (the placements' runs without their CRCs). */
export interface RunRow {
  incarnation: string;
  volser: string;
  /** byte position on the volume */
  position: number;
  /** bytes the run takes on the volume */
  length: number;
  firstSeq: number;
  superblocks: number;
}

/** Where the state was read: the catalog's `GET /at` answer's `asOf`. */
export interface AsOfPoint {
  eventsOffset?: number | string | null;
  sovOffset?: number | string | null;
  time?: number | string | null;
}

/** What `GET /at` answers (the auditor's contract). */
export interface AtAnswer {
  asOf: AsOfPoint;
  digest?: string;
  saves: SaveRow[];
  dsims: DsimRow[];
  lineages: LineageRow[];
  restores: RestoreRow[];
  streams: StreamRow[];
  volumes: VolumeRow[];
  clientFiles: ClientFileRow[];
  /** the DLOGs at that point, by dbid, when the catalog gives them */
  dlogs?: Record<string, DlogRow | null>;
}

/** What the console's `GET /api/state` answers: live or as of a point, the same shape. */
export interface ConsoleState {
  mode: 'live' | 'as-of';
  /** the point shown (as of), with the catalog's digest at it */
  asOf?: AsOfPoint;
  digest?: string;
  /** why the state could not be shown (as of: not available from this catalog, a catalog error) */
  unavailable?: string;
  databases: DatabaseRows[];
  streams: StreamRow[];
  volumes: VolumeRow[];
  clientFiles: ClientFileRow[];
  runs: RunRow[];
  /** a note on what is approximate (as of: the run positions are today's placements) */
  notes: string[];
  fetchedAt: number;
}

export interface DatabaseRows {
  dbid: number;
  saves: SaveRow[];
  dsims: DsimRow[];
  lineages: LineageRow[];
  restores: RestoreRow[];
  dlog: DlogRow | null;
  /** the data set retention (live only: `/report`'s retention.dataSets) */
  retention?: RetentionRow | null;
}

/** The console's `GET /api/health` answer. */
export interface HealthState {
  services: Array<{ service: string; url: string; up: boolean; error?: string; lag: LagRow[]; deadLettered: number }>;
  deadLetters: DeadLetterRow[];
  rejections: RejectionRow[];
  /** what the console's Kafka tail has read: next offset per topic:partition of dsf.events and sov.events */
  positions: Record<string, string>;
  tail: { ready: boolean; error?: string };
  fetchedAt: number;
}

export interface LagRow {
  service: string;
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

export interface DeadLetterRow {
  /** where the dead letter is: `<topic>.dlq`, partition, offset */
  dlqTopic: string;
  dlqPartition: number;
  dlqOffset: string;
  sourceTopic: string;
  partition: number;
  offset: string;
  consumerGroup: string;
  errorCode: string;
  reason: string;
  field?: string;
  occurredAt: number;
}

export interface RejectionRow {
  topic: string;
  partition: number;
  offset: string;
  type: string;
  dbid?: number;
  correlationId?: string;
  commandType?: string;
  code?: string;
  rule?: string;
  input?: string;
  reason: string;
  occurredAt: number;
}
