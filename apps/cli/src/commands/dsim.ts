/** `dsf dsim unload | reset | print | snapshot`: the original DSIM of an online save, answered by the DSIM builder. */
import { Option, type Command } from 'commander';
import { blocksArg, dbidArg, nameArg, streamArg, withCommonOptions, type BlockRangeArg, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';

interface DsimOptions extends CommonOptions {
  dbid: number;
  dest?: string;
  stream?: string;
  wait?: boolean;
  force?: boolean;
  blocks?: BlockRangeArg[];
}

const dbidOption = () => new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory();
const destOption = (what: string) => new Option('--dest <NAME>', what).argParser(nameArg('--dest')).makeOptionMandatory();

export const dsimCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const dsim = program.command('dsim').summary('unload, reset, copy or print the DSIM of a database').description('The DSIM of database N: the blocks changed while its last online save ran.');

    const unload = dsim
      .command('unload')
      .summary('write the DSIM to a data set and free it')
      .description(
        'Writes the DSIM to a data set (kind unloaded-dsim, with its save\'s DSID) and frees it. ' +
          'With --wait (DSIMWAIT), while the DSIM\'s save has not reached its end sync the unload is asked again (correlation ids ID, ID.2, ID.3...) until it completes or --timeout ends.',
      )
      .addOption(dbidOption())
      .option('--wait', 'wait for the DSIM to complete instead of failing DSIM_NOT_COMPLETE')
      .addOption(destOption('the data set to write (with --stream, the client file\'s name)'))
      .addOption(new Option('--stream <NAME>', 'write the DSIM to this stream as a client file instead of the data set directory').argParser(streamArg('--stream')));
    withCommonOptions(unload).action((o: DsimOptions) =>
      use(
        sendPlan(
          {
            type: 'DsimUnloadRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            destination: o.stream !== undefined ? { kind: 'stream', stream: o.stream, name: o.dest as string } : { kind: 'directory', name: o.dest as string },
          },
          o,
          {
            retryWhileNotComplete: o.wait === true,
          },
        ),
      ),
    );

    const reset = dsim
      .command('reset')
      .summary('free the DSIM without unloading it')
      .description('Frees the DSIM without unloading it. A DSIM its save still needs (collecting, or complete and never unloaded or merged) is refused unless --force.')
      .addOption(dbidOption())
      .option('--force', 'reset even a DSIM that its save still needs (its blocks are then lost to restores)');
    withCommonOptions(reset).action((o: DsimOptions) =>
      use(sendPlan({ type: 'DsimResetRequested', correlationId: correlationIdOf(o), dbid: o.dbid, ...(o.force ? { force: true } : {}) }, o)),
    );

    const snapshot = dsim
      .command('snapshot')
      .summary('copy the DSIM to a data set, keeping it')
      .description('Copies the DSIM as it is now to a data set (kind original-dsim) without freeing it; what a merge or restore of @dsim reads.')
      .addOption(dbidOption())
      .addOption(destOption('the data set to write'));
    withCommonOptions(snapshot).action((o: DsimOptions) =>
      use(sendPlan({ type: 'DsimSnapshotRequested', correlationId: correlationIdOf(o), dbid: o.dbid, destination: o.dest as string }, o)),
    );

    const print = dsim
      .command('print')
      .summary('print the DSIM\'s blocks to the DSIM builder\'s log')
      .description('Asks the DSIM builder to print the DSIM\'s blocks (all, or those of --blocks) to its log; done once the command is sent.')
      .addOption(dbidOption())
      .addOption(new Option('--blocks <RANGES>', 'only these blocks: AREA:FROM[-TO],... (e.g. ASSO:1-10,DATA:7)').argParser(blocksArg));
    withCommonOptions(print, { follows: false }).action((o: DsimOptions) =>
      use(sendPlan({ type: 'DsimPrintRequested', correlationId: correlationIdOf(o), dbid: o.dbid, ...(o.blocks ? { blocks: o.blocks } : {}) }, o, { follow: false })),
    );
  },
};
