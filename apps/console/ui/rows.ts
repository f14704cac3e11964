/**
 * The rows the console shows, as the catalog's HTTP API answers them (`/saves`, `/dsims`,
 * `/lineages`, `/restores`, `/report`'s dlog, `/streams`, `/volumes`, `/client-files`, the
 * placements' runs) and as its `GET /at` answers them for a past point: the same shapes. Declared
 * here (apps never import each other; the page's bundle must not pull in the catalog's database
 * code); only the fields the console reads, optional where the catalog may leave them out.
 */
export interface SaveRow {
  dbid: number;
  dsid: string | null;
  lineage?: string;
  origin: 'save' | 'merge';
  correlationId: string;
  kind?: 'full' | 'delta';
  online?: boolean;
  status: 'started' | 'completed' | 'failed';
  path?: string;
  startedAt: number;
  completedAt?: number;
  startLsn?: number;
  endLsn?: number;
  blocks?: number;
  bytes?: number;
  reason?: string;
}

export interface DsimRow {
  dbid: number;
  dsid: string;
  status: 'acquired' | 'completed' | 'unloaded' | 'reset' | string;
  startLsn: number;
  endLsn?: number;
  blocks?: number;
  path?: string;
  acquiredAt: number;
  updatedAt: number;
}

export interface LineageRow {
  dbid: number;
  lineage: string;
  firstDsid: string;
  firstAt: number;
  latestDsid: string;
  latestAt: number;
}

export interface RestoreRow {
  /** absent in the live `/restores?dbid=N` rows (the console adds it) */
  dbid?: number;
  correlationId: string;
  target: string;
  kind: 'restore' | 'shadow' | 'regenerate' | string;
  status: 'started' | 'completed' | 'interrupted' | string;
  inputs?: string[];
  dsid?: string;
  intoDatabase?: boolean;
  blocks?: number;
  reason?: string;
  startedAt: number;
  completedAt?: number;
}

export interface DlogRow {
  blocks: { ASSO: number; DATA: number };
  marks: Array<{ file: number; parts: string[]; extents: Array<{ part: string; from: number; to: number }> }>;
  extension: { used: number; capacity: number };
  pending: { correlationId: string; syncLsn: number; ASSO: number; DATA: number; exact: boolean } | null;
  lastLsn: number | null;
  updatedAt: number;
}

export interface StreamRow {
  stream: string;
  volumeCapacity: number;
  devices: Array<{ device: string; status: string; volser?: string; reason?: string }>;
  openClientFiles: number;
  volumes: number;
}

export interface VolumeRow {
  volser: string;
  stream: string;
  streamFile: string;
  volumeSeq: number;
  device: string;
  state: string;
  bytes: number;
  capacity?: number;
  fill?: number;
  expiresAt?: number | null;
  suspect?: { position?: number; reason: string };
  clientFiles: Array<{ incarnation: string; clientFile: string; state: string }>;
}

export interface ClientFileRow {
  incarnation: string;
  clientFile: string;
  stream: string;
  dbid?: number;
  kind?: string;
  expiresAt?: number;
  state: string;
  openedAt: number;
  closedAt?: number;
  superblocks: number;
  bytes: number;
  volsers: string[];
  runs: number;
}

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
