/**
 * Every command group of `dsf`, in the order `dsf --help` lists them. A new group is a file
 * in this folder exporting a CommandGroup (its options, help and the plan it builds) and one
 * line here.
 */
import type { CommandGroup } from '../plan';
import { auditCommand } from './audit';
import { dsimCommand } from './dsim';
import { mergeCommand } from './merge';
import { reportCommand } from './report';
import { restoreCommand } from './restore';
import { retentionCommand } from './retention';
import { saveCommand } from './save';
import { savesCommand } from './saves';
import { scheduleCommand } from './schedule';
import { shadowCommand } from './shadow';
import { streamsCommand } from './streams';
import { unloadCommand } from './unload';
import { upstreamCommand } from './upstream';

export const COMMAND_GROUPS: readonly CommandGroup[] = [saveCommand, dsimCommand, savesCommand, mergeCommand, restoreCommand, shadowCommand, unloadCommand, reportCommand, upstreamCommand, streamsCommand, auditCommand, scheduleCommand, retentionCommand];
