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
import { array, boolean, enumOf, int, optional } from '../schema';

const inputs = (min: number) => array(name(), { minLength: min, maxLength: 10, unique: true });

/** Version 2: `kind` (was `mode`), the one name of full/delta. */
export const SaveRequested = defineMessage({
  type: 'SaveRequested',
  version: 2,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), kind: enumOf(SAVE_KINDS), online: boolean(), destination: Destination },
  upcasters: { 1: modeToKind },
});

export const MergeRequested = defineMessage({
  type: 'MergeRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), inputs: inputs(2), output: Destination },
});

export const RestoreRequested = defineMessage({
  type: 'RestoreRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    inputs: inputs(1),
    target: name(),
    files: optional(array(int({ min: 1, max: 65535 }), { minLength: 1, maxLength: 65535, unique: true })),
    shadow: optional(boolean()),
  },
});

export const DsimUnloadRequested = defineMessage({
  type: 'DsimUnloadRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), destination: Destination },
});

export const DsimResetRequested = defineMessage({
  type: 'DsimResetRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid() },
});

export const DsimPrintRequested = defineMessage({
  type: 'DsimPrintRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), blocks: optional(blockRanges()) },
});

export const ShadowInitRequested = defineMessage({
  type: 'ShadowInitRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), inputs: inputs(1) },
});

export const ShadowApplyRequested = defineMessage({
  type: 'ShadowApplyRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), inputs: inputs(1) },
});

export const ShadowRegenerateRequested = defineMessage({
  type: 'ShadowRegenerateRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), toLsn: optional(lsn()) },
});

export const DSF_COMMAND_MESSAGES = [
  SaveRequested,
  MergeRequested,
  RestoreRequested,
  DsimUnloadRequested,
  DsimResetRequested,
  DsimPrintRequested,
  ShadowInitRequested,
  ShadowApplyRequested,
  ShadowRegenerateRequested,
] as const;
