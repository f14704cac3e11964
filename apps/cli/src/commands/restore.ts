/** `dsf restore`: restore delta, a full save and the deltas after it (+ DSIMs) into a target (RestoreRequested). */
import { Option, type Command } from 'commander';
import type { MessageOfType } from '@deltaflow/contracts';
import { filesArg, fmoveArg, inputsArg, nameArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import { dbidOption, dsimWaitOption, inputsArgument } from './inputs';

type Scope = NonNullable<MessageOfType<'RestoreRequested'>['scope']>;

interface RestoreOptions extends CommonOptions {
  dbid: number;
  target: string;
  gcb?: boolean;
  files?: number[];
  fmove?: Array<{ file: number; rabn: number }>;
  resume?: boolean;
  intoDatabase?: boolean;
  dsimWait?: number;
}

function scopeOf(o: RestoreOptions): Scope | undefined {
  if (o.gcb) return { kind: 'gcb' };
  if (o.files) return { kind: 'files', files: o.files };
  if (o.fmove) return { kind: 'fmove', moves: o.fmove };
  return undefined;
}

export const restoreCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const cmd = program
      .command('restore')
      .summary('restore a database from a full save and the deltas after it')
      .description(
        'Restore delta: a full save and the consecutive deltas after it (each online one with its DSIM) into $DELTAFLOW_DATA_DIR/restores/TARGET, ' +
          'or with --into-database into the database\'s own containers (its nucleus stopped; the database then continues on a new lineage). ' +
          'An interrupted restore continues with --resume and the same inputs less the full save.',
      )
      .addOption(dbidOption().makeOptionMandatory())
      .addOption(new Option('--target <NAME>', 'the restored database\'s name under restores/').argParser(nameArg('--target')).makeOptionMandatory())
      .addOption(new Option('--gcb', 'restore only the general control blocks (GCB)').conflicts(['files', 'fmove']))
      .addOption(new Option('--files <F,F>', 'restore only these files (numbers 1..65535)').argParser(filesArg).conflicts('fmove'))
      .addOption(new Option('--fmove <F:RABN,...>', 'restore these files, each moved to start at RABN (FMOVE)').argParser(fmoveArg))
      .option('--resume', 'continue an interrupted restore (inputs without the full save)')
      .option('--into-database', 'restore into the database itself rather than restores/TARGET')
      .addOption(dsimWaitOption())
      .addArgument(inputsArgument());
    withCommonOptions(cmd).action((inputs: string[], o: RestoreOptions) => {
      const scope = scopeOf(o);
      use(
        sendPlan(
          {
            type: 'RestoreRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            inputs: inputsArg(inputs),
            target: o.target,
            ...(scope ? { scope } : {}),
            ...(o.resume ? { resume: true } : {}),
            ...(o.intoDatabase ? { intoDatabase: true } : {}),
            ...(o.dsimWait !== undefined ? { dsimWaitSec: o.dsimWait } : {}),
          },
          o,
          { dsimWaitSec: o.dsimWait },
        ),
      );
    });
  },
};
