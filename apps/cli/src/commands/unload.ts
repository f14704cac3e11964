/** `dsf unload`: ADAULD, one file of the database as of the inputs (full save + deltas + DSIM) as a plain file of its blocks (FileUnloadRequested). */
import { Option, type Command } from 'commander';
import { fileArg, inputsArg, nameArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import { dbidOption, dsimWaitOption, inputsArgument } from './inputs';

interface UnloadOptions extends CommonOptions {
  dbid: number;
  file: number;
  out: string;
  dsimWait?: number;
}

export const unloadCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const cmd = program
      .command('unload')
      .summary('unload one file of a database from its saves')
      .description('ADAULD: file F of database N as the inputs (a full save and the deltas after it, + DSIMs) leave it, written as a plain file of its blocks.')
      .addOption(dbidOption().makeOptionMandatory())
      .addOption(new Option('--file <F>', 'the file number (1..65535)').argParser(fileArg).makeOptionMandatory())
      .addOption(new Option('--out <NAME>', 'the data set to write').argParser(nameArg('--out')).makeOptionMandatory())
      .addOption(dsimWaitOption())
      .addArgument(inputsArgument());
    withCommonOptions(cmd).action((inputs: string[], o: UnloadOptions) =>
      use(
        sendPlan(
          {
            type: 'FileUnloadRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            file: o.file,
            out: o.out,
            inputs: inputsArg(inputs),
            ...(o.dsimWait !== undefined ? { dsimWaitSec: o.dsimWait } : {}),
          },
          o,
          { dsimWaitSec: o.dsimWait },
        ),
      ),
    );
  },
};
