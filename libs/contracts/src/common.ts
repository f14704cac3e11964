/**
 * Field schemas shared by many messages: identifiers, positions, DSIDs, destinations.
 * Names that may become file names (data sets, targets, client files) are restricted to a
 * safe character set with no path separators, so nothing decoded from a message can escape
 * a configured directory.
 */
import { AREAS as BLOCK_AREAS, FILE_PARTS as BLOCK_FILE_PARTS, type Area, type FilePart } from '@deltaflow/blocks';
import { SAFE_NAME_PATTERN, SAFE_NAME_RULE } from '@deltaflow/core';
import type { Dsid, SaveKind } from '@deltaflow/dsid';
import { array, enumOf, int, object, optional, posint, string, uint, union, type Schema } from './schema';

/** A database id (Adabas allows 1..65535). */
export const dbid = (): Schema<number> => int({ min: 1, max: 65535 });
/** A position in one database's change stream; a safe JS integer (see schema.ts). */
export const lsn = (): Schema<number> => uint();
/** Milliseconds since the epoch, always passed in by the producer. */
export const timestamp = (): Schema<number> => uint();
export const rabn = (): Schema<number> => posint();

export const AREAS = BLOCK_AREAS as readonly [Area, ...Area[]];
export const area = (): Schema<Area> => enumOf(AREAS);
export const FILE_PARTS = BLOCK_FILE_PARTS as readonly [FilePart, ...FilePart[]];
export const filePart = (): Schema<FilePart> => enumOf(FILE_PARTS);

/** A data set / directory / target name (see @deltaflow/core names): no slashes, no leading dot, so never `..`. */
export const name = (): Schema<string> =>
  string({ minLength: 1, maxLength: 128, pattern: SAFE_NAME_PATTERN, patternName: SAFE_NAME_RULE });
/** A stream name (also a Kafka key on sov.*). */
export const streamName = (): Schema<string> =>
  string({ minLength: 1, maxLength: 64, pattern: SAFE_NAME_PATTERN, patternName: 'stream name of [A-Za-z0-9._-] (1..64, starting with a letter or digit)' });
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
  { check: (r) => (r.from > r.to ? { field: 'to', message: `expected ≥ from (${r.from}), got ${r.to}` } : undefined), rule: 'from ≤ to' },
);
export type BlockRange = ReturnType<typeof BlockRange.parse>;
export const blockRanges = (): Schema<BlockRange[]> => array(BlockRange, { maxLength: 1_000_000 });

/** An inclusive RABN range of one part of a file (DATA, AC or INDEX). */
export const Extent = object(
  { part: filePart(), from: rabn(), to: rabn() },
  { check: (r) => (r.from > r.to ? { field: 'to', message: `expected ≥ from (${r.from}), got ${r.to}` } : undefined), rule: 'from ≤ to' },
);

/** A utility's marks on one file (seed: marks in the FCB, extents for ADALOD UPDATE): whole parts and DATA/AC extents. */
export const UtilityMark = object({
  file: int({ min: 1, max: 65535 }),
  parts: array(filePart(), { maxLength: 3, unique: true }),
  extents: array(Extent, { maxLength: 100_000 }),
});
export type UtilityMark = ReturnType<typeof UtilityMark.parse>;

/** A DSID as a structured object (see @deltaflow/dsid). */
export const DsidSchema: Schema<Dsid> = object(
  { full: posint(), deltaFrom: uint(), deltaTo: uint(), timestamp: timestamp(), lineage: id() },
  { check: (d) => (d.deltaFrom > d.deltaTo ? { field: 'deltaTo', message: `expected ≥ deltaFrom (${d.deltaFrom}), got ${d.deltaTo}` } : undefined), rule: 'deltaFrom ≤ deltaTo' },
);

/**
 * Where a writer should put a data set: a file in the data-set directory, or a client file on a
 * stream (named `name`, default the command's correlation id; a name may be written again: each
 * write is a new incarnation, and reading by name takes the newest closed one).
 */
export const Destination = union('kind', {
  directory: { name: name() },
  stream: { stream: streamName(), name: optional(name()) },
});
export type Destination = ReturnType<typeof Destination.parse>;

/** Where a data set was put: a file in the data-set directory, or a client file on a stream. */
export const Location = union('kind', {
  directory: { name: name() },
  stream: { stream: streamName(), clientFile: name() },
});
export type Location = ReturnType<typeof Location.parse>;

/** What a save holds: every used block (full) or the blocks changed since the last save (delta). */
export const SAVE_KINDS = ['full', 'delta'] as const satisfies readonly SaveKind[];
