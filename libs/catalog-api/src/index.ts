/**
 * The catalog's query API, as its HTTP endpoints answer (`/saves`, `/dsims`, `/lineages`,
 * `/restores`, `/report`'s DLOG, `/retention`, `/streams`, `/volumes`, `/client-files`) and as `GET /at` answers
 * for a past point: one home for these shapes, read by the catalog that builds them and by the
 * clients that show them (the console, dsf). Types only.
 */

export type DsimStatus = 'acquired' | 'completed' | 'unloaded' | 'reset';
export type ClientFileState = 'open' | 'closed' | 'aborted' | 'expired';

export interface SaveView {
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
  digest?: string;
  reason?: string;
  /** when the retention deleted its data sets (DataSetExpired), why, and which */
  expiredAt?: number;
  expiryReason?: string;
  expiredNames?: string[];
}

export interface DsimView {
  dbid: number;
  dsid: string;
  status: DsimStatus;
  startLsn: number;
  endLsn?: number;
  blocks?: number;
  path?: string;
  acquiredAt: number;
  updatedAt: number;
}

export interface LineageView {
  dbid: number;
  lineage: string;
  firstDsid: string;
  firstAt: number;
  latestDsid: string;
  latestAt: number;
}

export interface RestoreView {
  correlationId: string;
  target: string;
  kind: 'restore' | 'shadow' | 'regenerate';
  status: 'started' | 'completed' | 'interrupted';
  inputs?: string[];
  dsid?: string;
  intoDatabase: boolean;
  blocks?: number;
  digest?: string;
  fromLsn?: number;
  toLsn?: number;
  reason?: string;
  startedAt: number;
  completedAt?: number;
}

/** The data set retention of one database (`GET /retention`, `/report`'s retention.dataSets): what it keeps and why, what is due, what went. */
export interface RetentionView {
  readonly dbid: number;
  readonly policy: { readonly keepSaves?: number; readonly keepDays?: number };
  /** where the policy comes from: `dsf retention set`, or the catalog's configuration */
  readonly source: 'set' | 'default';
  readonly setAt?: number;
  /** the policy in words */
  readonly rule: string;
  readonly asOf: number;
  readonly keep: Array<{ correlationId: string; dsid: string; path?: string; why: string }>;
  /** due to expire at `asOf` (what `dsf expire` would delete now) */
  readonly expire: Array<{ correlationId: string; dsid: string; names: string[]; why: string }>;
  readonly expired: Array<{ correlationId: string; dsid: string; expiredAt: number; reason: string; names: string[] }>;
}

export interface DlogView {
  blocks: { ASSO: number; DATA: number };
  marks: Array<{ file: number; parts: string[]; extents: Array<{ part: string; from: number; to: number }> }>;
  /** extents kept per file in the ADALOD UPDATE extension, and its capacity */
  extension: { used: number; capacity: number };
  pending: { correlationId: string; syncLsn: number; ASSO: number; DATA: number; exact: boolean } | null;
  lastLsn: number | null;
  updatedAt: number;
}

export interface StreamView {
  stream: string;
  minDevices: number;
  maxDevices: number;
  objectiveBytesPerSec?: number;
  volumeCapacity: number;
  deviceRateBytesPerSec?: number;
  runSuperblocks: number;
  checkpointEveryBytes: number;
  compression: string;
  encryption: string;
  definedAt: number;
  devices: Array<{ device: string; status: 'active' | 'removed' | 'failed'; rateBytesPerSec?: number; volser?: string; reason?: string }>;
  openClientFiles: number;
  volumes: number;
}

export interface VolumeView {
  volser: string;
  stream: string;
  streamFile: string;
  volumeSeq: number;
  previousVolser?: string;
  nextVolser?: string;
  device: string;
  state: 'mounted' | 'full' | 'suspect' | 'scratch';
  bytes: number;
  capacity?: number;
  /** bytes ÷ capacity */
  fill?: number;
  /** when the last client file on it expires (none: a client file on it never expires) */
  expiresAt?: number | null;
  suspect?: { position?: number; reason: string };
  /** its latest verification (VolumeVerified) */
  verified?: { at: number; ok: boolean; problemCount: number; trigger: string };
  clientFiles: Array<{ incarnation: string; clientFile: string; state: string }>;
}

export interface ClientFileView {
  incarnation: string;
  clientFile: string;
  stream: string;
  dbid?: number;
  dsid?: unknown;
  kind?: string;
  expiresAt?: number;
  description?: string;
  state: ClientFileState;
  openedAt: number;
  closedAt?: number;
  superblocks: number;
  bytes: number;
  sha256?: string;
  reason?: string;
  volsers: string[];
  runs: number;
}
