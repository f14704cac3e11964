/** `dsf save`: a full or delta save (SaveRequested), answered by the save writer. */
import { Option, type Command } from 'commander';
import { CliUsageError, dbidArg, nameArg, streamArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';

interface SaveOptions extends CommonOptions {
  dbid: number;
  full?: boolean;
  delta?: boolean;
  offline?: boolean;
  dest?: string;
  stream?: string;
}

export const saveCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const cmd = program
      .command('save')
      .summary('take a full or delta save of a database')
      .description(
        'Takes a save of database N: --full (every used block) or --delta (the blocks changed since the last save), ' +
          'online (the database keeps running; the blocks changed meanwhile go to its DSIM) or --offline (the nucleus is stopped). ' +
          'With --id ID the save\'s sync points are ID.start and ID.end.',
      )
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .addOption(new Option('--full', 'a full save: every used block').conflicts('delta'))
      .addOption(new Option('--delta', 'a delta save: the blocks changed since the last save'))
      .option('--offline', 'the nucleus is stopped: no sync points, no DSIM')
      .addOption(new Option('--dest <NAME>', 'the data set to write (a plain name in the data set directory; with --stream, the client file\'s name)').argParser(nameArg('--dest')))
      .addOption(new Option('--stream <NAME>', 'write the data set to this stream as a client file instead of the data set directory').argParser(streamArg('--stream')));
    withCommonOptions(cmd).action((o: SaveOptions) => {
      if (!o.full && !o.delta) throw new CliUsageError('give exactly one of --full or --delta');
      if (o.dest === undefined && o.stream === undefined) throw new CliUsageError('--dest NAME is required (or --stream NAME)');
      const destination =
        o.stream !== undefined ? { kind: 'stream' as const, stream: o.stream, ...(o.dest !== undefined ? { name: o.dest } : {}) } : { kind: 'directory' as const, name: o.dest as string };
      use(sendPlan({ type: 'SaveRequested', correlationId: correlationIdOf(o), dbid: o.dbid, kind: o.full ? 'full' : 'delta', online: !o.offline, destination }, o));
    });
  },
};
