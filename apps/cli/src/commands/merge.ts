/** `dsf merge`: a full save and consecutive deltas (+ DSIMs) into one consolidated delta or a new full save (MergeRequested). */
import { Option, type Command } from 'commander';
import { inputsArg, nameArg, streamArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import { dbidOption, dsimWaitOption, inputsArgument } from './inputs';

interface MergeOptions extends CommonOptions {
  dbid: number;
  dest: string;
  stream?: string;
  full?: boolean;
  dsimWait?: number;
}

export const mergeCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const cmd = program
      .command('merge')
      .summary('merge saves into a consolidated delta or a new full save')
      .description(
        'Merges consecutive delta saves (each online one with its DSIM), and optionally the full save they follow, into one data set: ' +
          'a consolidated delta, or a new full save when a full save is an input. The merge engine checks the DSID rules before reading a byte.',
      )
      .addOption(dbidOption().makeOptionMandatory())
      .addOption(new Option('--dest <NAME>', 'the data set to write (with --stream, the client file\'s name)').argParser(nameArg('--dest')).makeOptionMandatory())
      .addOption(new Option('--stream <NAME>', 'write the result to this stream as a client file instead of the data set directory').argParser(streamArg('--stream')))
      .option('--full', 'the result must be a full save (a full save must be among the inputs)')
      .addOption(dsimWaitOption())
      .addArgument(inputsArgument());
    withCommonOptions(cmd).action((inputs: string[], o: MergeOptions) =>
      use(
        sendPlan(
          {
            type: 'MergeRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            inputs: inputsArg(inputs),
            output: o.stream !== undefined ? { kind: 'stream', stream: o.stream, name: o.dest } : { kind: 'directory', name: o.dest },
            ...(o.full ? { full: true } : {}),
            ...(o.dsimWait !== undefined ? { dsimWaitSec: o.dsimWait } : {}),
          },
          o,
          { dsimWaitSec: o.dsimWait },
        ),
      ),
    );
  },
};
