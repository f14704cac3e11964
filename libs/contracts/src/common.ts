/**
 * Field schemas shared by many messages: identifiers, positions, DSIDs, destinations.
 * Names that may become file names (data sets, targets, client files) are restricted to a
 * safe character set with no path separators, so nothing decoded from a message can escape
 * a configured directory.
 */
import type { Dsid } from '@deltaflow/dsid';
import { array, enumOf, int, object, posint, string, uint, union, type Schema } from './schema';

/** A database id (Adabas allows 1..65535). */
export const dbid = (): Schema<number> => int({ min: 1, max: 65535 });
/** A position in one database's change stream; a safe JS integer (see schema.ts). */
export const lsn = (): Schema<number> => uint();
/** Milliseconds since the epoch, always passed in by the producer. */
export const timestamp = (): Schema<number> => uint();
export const rabn = (): Schema<number> => posint();

export const AREAS = ['ASSO', 'DATA'] as const;
export type Area = (typeof AREAS)[number];
export const area = (): Schema<Area> => enumOf(AREAS);

export const UTILITY_PARTS = ['DATA', 'AC', 'INDEX'] as const;
export type UtilityPart = (typeof UTILITY_PARTS)[number];

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A data set / directory / target name: no slashes, no leading dot, so never `..`. */
export const name = (): Schema<string> =>
  string({ minLength: 1, maxLength: 128, pattern: SAFE_NAME, patternName: 'name of [A-Za-z0-9._-] (1..128, not starting with . _ or -)' });
/** A stream name (also a Kafka key on sov.*). */
export const streamName = (): Schema<string> =>
  string({ minLength: 1, maxLength: 64, pattern: SAFE_NAME, patternName: 'stream name of [A-Za-z0-9._-] (1..64, not starting with . _ or -)' });
/** Correlation ids, sync ids, capture ids: opaque, printable, bounded. */
export const id = (): Schema<string> =>
  string({ minLength: 1, maxLength: 128, pattern: /^[\x21-\x7e]+$/, patternName: 'id of printable ASCII without spaces (1..128)' });
/** A tape volume serial: 1..6 upper-case letters or digits. */
export const volser = (): Schema<string> => string({ minLength: 1, maxLength: 6, pattern: /^[A-Z0-9]{1,6}$/, patternName: 'volser of 1..6 [A-Z0-9]' });
/** A free-text reason for humans. */
export const text = (): Schema<string> => string({ minLength: 1, maxLength: 4096 });
/** An error code such as VALIDATION or MERGE_INPUT_INVALID. */
export const errorCode = (): Schema<string> =>
  string({ minLength: 1, maxLength: 64, pattern: /^[A-Z][A-Z0-9_]*$/, patternName: 'error code of [A-Z0-9_]' });

/** An inclusive range of RABNs in one area. */
export const BlockRange = object(
  { area: area(), from: rabn(), to: rabn() },
  { check: (r) => (r.from > r.to ? { field: 'to', message: `expected ≥ from (${r.from}), got ${r.to}` } : undefined) },
);
export type BlockRange = ReturnType<typeof BlockRange.parse>;
export const blockRanges = (): Schema<BlockRange[]> => array(BlockRange, { maxLength: 1_000_000 });

/** A utility's change mark on one file (seed: marks in the FCB, ranges for ADALOD UPDATE). */
export const UtilityMark = object({
  file: int({ min: 1, max: 65535 }),
  parts: array(enumOf(UTILITY_PARTS), { minLength: 1, maxLength: 3, unique: true }),
  ranges: array(BlockRange, { maxLength: 100_000 }),
});
export type UtilityMark = ReturnType<typeof UtilityMark.parse>;

/** A DSID as a structured object (see @deltaflow/dsid). */
export const DsidSchema: Schema<Dsid> = object(
  { full: posint(), deltaFrom: uint(), deltaTo: uint(), timestamp: timestamp(), lineage: id() },
  { check: (d) => (d.deltaFrom > d.deltaTo ? { field: 'deltaTo', message: `expected ≥ deltaFrom (${d.deltaFrom}), got ${d.deltaTo}` } : undefined) },
);

/** Where a writer should put a data set. */
export const Destination = union('kind', {
  directory: { name: name() },
  stream: { stream: streamName() },
});
export type Destination = ReturnType<typeof Destination.parse>;

/** Where a data set was put: a file in the data-set directory, or a client file on a stream. */
export const Location = union('kind', {
  directory: { name: name() },
  stream: { stream: streamName(), clientFile: name() },
});
export type Location = ReturnType<typeof Location.parse>;

export const SAVE_MODES = ['full', 'delta'] as const;
export type SaveMode = (typeof SAVE_MODES)[number];
