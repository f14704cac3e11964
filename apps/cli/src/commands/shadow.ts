/**
 * `dsf shadow init | apply | regenerate`: a shadow database, kept current by delta restores
 * without a full save (ShadowInitRequested, ShadowApplyRequested) or from the PLOG
 * (ShadowRegenerateRequested). Answered by the merge engine: init and apply with a
 * RestoreCompleted {shadow: true}, regenerate with ShadowRegenerated.
 */
import { Option, type Command } from 'commander';
import { CliUsageError, inputsArg, lsnArg, nameArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import { dbidOption, inputsArgument } from './inputs';

interface ShadowOptions extends CommonOptions {
  dbid?: number;
  shadow: string;
  toLsn?: number;
}

const shadowOption = () => new Option('--shadow <NAME>', 'the shadow database\'s name').argParser(nameArg('--shadow')).makeOptionMandatory();

/**
 * The shadow's database. The contract carries it and nothing can look it up yet (the catalog does
 * not know shadows), so it is required for now; the syntax keeps it optional for when it can be.
 */
function dbidOf(o: ShadowOptions): number {
  if (o.dbid === undefined) throw new CliUsageError(`--dbid N is required for now (the database of shadow ${o.shadow}; nothing can look it up yet)`);
  return o.dbid;
}

export const shadowCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const shadow = program.command('shadow').summary('initialise, apply deltas to, or regenerate a shadow database').description('A shadow database: a read-only copy of database N kept current by delta restores without a full save.');

    const init = shadow
      .command('init')
      .summary('create a shadow from a full save and deltas')
      .description('Creates the shadow from a full save and the consecutive deltas after it (+ DSIMs).')
      .addOption(dbidOption().makeOptionMandatory())
      .addOption(shadowOption())
      .addArgument(inputsArgument());
    withCommonOptions(init).action((inputs: string[], o: ShadowOptions) =>
      use(sendPlan({ type: 'ShadowInitRequested', correlationId: correlationIdOf(o), dbid: o.dbid as number, shadow: o.shadow, inputs: inputsArg(inputs) }, o)),
    );

    const apply = shadow
      .command('apply')
      .summary('restore the next deltas into a shadow')
      .description('Restores the next consecutive deltas (+ DSIMs) into the shadow, without a full save.')
      .addOption(shadowOption())
      .addOption(dbidOption('the shadow\'s database id (required for now)'))
      .addArgument(inputsArgument());
    withCommonOptions(apply).action((inputs: string[], o: ShadowOptions) =>
      use(sendPlan({ type: 'ShadowApplyRequested', correlationId: correlationIdOf(o), dbid: dbidOf(o), shadow: o.shadow, inputs: inputsArg(inputs) }, o)),
    );

    const regenerate = shadow
      .command('regenerate')
      .summary('bring a shadow forward from the PLOG')
      .description('REGENERATE: brings the shadow to the database\'s latest state (or to --to-lsn) from the PLOG since the LSN it stands at.')
      .addOption(shadowOption())
      .addOption(dbidOption('the shadow\'s database id (required for now)'))
      .addOption(new Option('--to-lsn <LSN>', 'stop at this LSN (default: the latest)').argParser(lsnArg));
    withCommonOptions(regenerate).action((o: ShadowOptions) =>
      use(
        sendPlan(
          { type: 'ShadowRegenerateRequested', correlationId: correlationIdOf(o), dbid: dbidOf(o), shadow: o.shadow, ...(o.toLsn !== undefined ? { toLsn: o.toLsn } : {}) },
          o,
        ),
      ),
    );
  },
};
