/**
 * dsf.commands: operator requests (from the CLI or API). Key: dbid. Every command has a
 * correlationId that the resulting dsf.events repeat.
 *
 * Choices where DESIGN is vague:
 * - Inputs and outputs are data-set names (no paths; resolved inside the configured
 *   data-set directory) or stream destinations.
 * - MergeRequested: 2..10 inputs (a full save + 8 deltas + a DSIM, seed's limits); the
 *   merge engine checks the DSID rules, the contract only the shape.
 * - RestoreRequested: `files` restores only those files (seed: RESTORE FILES); `shadow`
 *   true restores into a shadow database (no full save needed once initialised).
 * - DSIM commands: unload names a destination; print may restrict to some block ranges.
 * - Shadow commands name the shadow database (`shadow`, a target name). Regenerate applies
 *   the PLOG from the shadow's last delta onwards, optionally up to `toLsn`.
 */
import { blockRanges, dbid, Destination, id, lsn, name, SAVE_KINDS } from '../common';
import { defineMessage } from '../define';
import { modeToKind } from './upcasts';
import { array, boolean, enumOf, int, object, optional, posint, string, uint, union } from '../schema';


/** Version 2: `kind` (was `mode`), the one name of full/delta. */
export const SaveRequested = defineMessage({
  type: 'SaveRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), kind: enumOf(SAVE_KINDS), online: boolean(), destination: Destination },
  upcasters: { 1: modeToKind },
});

/**
 * An input of a merge, restore, shadow apply or file unload: a data set's name (as given to
 * --dest), a client file on a stream (`stream:NAME/FILE` once streams exist), or `@dsim`, the
 * database's original DSIM where it lives. Deltaflow takes any number of inputs in one command.
 */
export const ORIGINAL_DSIM_INPUT = '@dsim';
const inputRef = () =>
  string({ minLength: 1, maxLength: 200, pattern: /^(@dsim|[A-Za-z0-9][A-Za-z0-9._-]{0,127}|stream:[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127})$/, patternName: 'a data set name, stream:STREAM/FILE or @dsim' });
const inputList = () => array(inputRef(), { minLength: 1, maxLength: 4096, unique: true });

/**
 * Merge (seed: ADASAV MERGE): zero or one full save and consecutive deltas (each online save with
 * its DSIM) into one consolidated delta, or a new full save when a full save is an input.
 * v2: inputs may be `@dsim`; `full` demands a full result; `dsimWaitSec` is DSIMWAIT.
 */
export const MergeRequested = defineMessage({
  type: 'MergeRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    inputs: inputList(),
    output: Destination,
    full: optional(boolean()),
    dsimWaitSec: optional(uint(86_400)),
  },
});

/** Restricting a delta restore (seed: RESTORE GCB, FILE, FMOVE). */
export const RestoreScope = union('kind', {
  gcb: {},
  files: { files: array(int({ min: 1, max: 65535 }), { minLength: 1, maxLength: 65535, unique: true }) },
  fmove: { moves: array(object({ file: int({ min: 1, max: 65535 }), rabn: posint() }), { minLength: 1, maxLength: 65535 }) },
});

/**
 * Restore delta (seed: ADASAV RESTORE DELTA): a full save and the deltas after it (+ DSIMs) into
 * the target `<dataDir>/restores/<target>`, or with `intoDatabase` into the database's own
 * containers (the nucleus must be stopped). `resume` continues an interrupted restore without
 * the full save. v2 adds scope, resume, intoDatabase; `files` moved into scope.
 */
export const RestoreRequested = defineMessage({
  type: 'RestoreRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    inputs: inputList(),
    target: name(),
    scope: optional(RestoreScope),
    resume: optional(boolean()),
    intoDatabase: optional(boolean()),
    dsimWaitSec: optional(uint(86_400)),
  },
  upcasters: { 1: ({ files, shadow: _shadow, ...f }) => ({ ...f, ...(Array.isArray(files) ? { scope: { kind: 'files', files } } : {}) }) },
});

export const DsimUnloadRequested = defineMessage({
  type: 'DsimUnloadRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), destination: Destination },
});

/** v2: `force` resets a DSIM whose save still needs it (collecting, or complete and never unloaded or merged). */
export const DsimResetRequested = defineMessage({
  type: 'DsimResetRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), force: optional(boolean()) },
  upcasters: { 1: (f) => f },
});

/**
 * A copy of the original DSIM as it is now, as an `original-dsim` data set, without freeing it: how
 * a merge or restore reads the original DSIM where it lives. Answered by DsimSnapshotted or
 * CommandRejected (DSIM_FREE, DSIM_NOT_COMPLETE).
 */
export const DsimSnapshotRequested = defineMessage({
  type: 'DsimSnapshotRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), destination: name() },
});

export const DsimPrintRequested = defineMessage({
  type: 'DsimPrintRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), blocks: optional(blockRanges()) },
});

/** A shadow database (seed: "Operating a Shadow Database"): initialised by restoring a full save (+ deltas). */
export const ShadowInitRequested = defineMessage({
  type: 'ShadowInitRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), inputs: inputList() },
  upcasters: { 1: (f) => f },
});

/** The next consecutive deltas (+ DSIMs) restored into a shadow, without a full save. */
export const ShadowApplyRequested = defineMessage({
  type: 'ShadowApplyRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), inputs: inputList() },
  upcasters: { 1: (f) => f },
});

/** REGENERATE: the shadow brought to the latest state from the PLOG since the LSN it stands at (up to `toLsn`). */
export const ShadowRegenerateRequested = defineMessage({
  type: 'ShadowRegenerateRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), toLsn: optional(lsn()) },
});

/** ADAULD: one file of the database, from a full save + deltas (+ DSIM), as a plain file of its blocks. */
export const FileUnloadRequested = defineMessage({
  type: 'FileUnloadRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), file: int({ min: 1, max: 65535 }), out: name(), inputs: inputList(), dsimWaitSec: optional(uint(86_400)) },
});

export const DSF_COMMAND_MESSAGES = [
  SaveRequested,
  MergeRequested,
  RestoreRequested,
  DsimUnloadRequested,
  DsimResetRequested,
  DsimPrintRequested,
  DsimSnapshotRequested,
  ShadowInitRequested,
  ShadowApplyRequested,
  ShadowRegenerateRequested,
  FileUnloadRequested,
] as const;
