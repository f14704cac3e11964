/** The INPUT... argument and the options shared by the commands that read saves (merge, restore, shadow, unload). */
import { Argument, Option } from 'commander';
import { dbidArg, dsimWaitArg } from '../options';

export const INPUTS_HELP =
  'the inputs, in any order: data set names (as given to --dest), stream:STREAM/FILE (a client file on a stream) or @dsim (the database\'s original DSIM where it lives)';

export const inputsArgument = () => new Argument('<INPUT...>', INPUTS_HELP);
export const dbidOption = (help = 'database id (1..65535)') => new Option('--dbid <N>', help).argParser(dbidArg);
export const dsimWaitOption = () =>
  new Option('--dsim-wait <SEC>', 'DSIMWAIT: when @dsim is an input and its save has not reached its end sync, wait up to SEC seconds for it (the default --timeout grows by SEC)').argParser(
    dsimWaitArg,
  );
