/**
 * The `dsf` command line: a commander program made of the command groups (commands/), parsed
 * into a Plan before anything is sent. Every mistake is a CliUsageError naming the option and
 * what was expected (exit 2); `--help` on every command is commander's, generated from the
 * options the groups declare.
 */
import { Command, CommanderError } from 'commander';
import { COMMAND_GROUPS } from './commands';
import { CliUsageError, refuseRepeatedOptions } from './options';
import type { Plan } from './plan';

const ENVIRONMENT = `
Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 bad arguments (nothing sent),
3 no outcome in time (--timeout) or infrastructure trouble.

Environment:
  KAFKA_BROKERS   host:port,... of Kafka; CATALOG_URL  the catalog's query API (saves list, report).
  Without them dsf talks to the system \`npm start\` runs from $DELTAFLOW_HOME (default ./.deltaflow),
  found in its run/endpoints.json. KAFKA_TLS*, KAFKA_SASL_* as for every service; HTTP_TOKEN (or
  HTTP_TOKEN_FILE): the catalog's token, sent as Authorization: Bearer.`;

/** The program, its actions handing their plan to `use`; commander's output goes to `output`. */
export function buildProgram(use: (plan: Plan) => void, output: { out: (s: string) => void; err: (s: string) => void }): Command {
  const program = new Command('dsf')
    .description('dsf: the Deltaflow operator command. Sends a command on dsf.commands and follows its outcome on dsf.events, or asks the catalog.')
    .usage('COMMAND [options]')
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err, outputError: () => undefined, getOutHelpWidth: () => 100, getErrHelpWidth: () => 100 })
    .showSuggestionAfterError(true)
    .addHelpText('after', ENVIRONMENT);
  for (const group of COMMAND_GROUPS) group.register(program, use);
  refuseRepeatedOptions(program);
  return program;
}

export type Parsed = { readonly kind: 'plan'; readonly plan: Plan } | { readonly kind: 'help'; readonly text: string };

/** The commands named at the start of argv (`dsim unload ...` → [dsim, unload]) and the deepest one. */
function commandOf(program: Command, argv: readonly string[]): { words: string[]; cmd: Command } {
  const words: string[] = [];
  let cmd = program;
  for (const a of argv) {
    const sub = cmd.commands.find((c) => c.name() === a);
    if (!sub) break;
    words.push(a);
    cmd = sub;
  }
  return { words, cmd };
}

/** Parses the arguments after `dsf` into a plan or help text; throws CliUsageError. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  let plan: Plan | undefined;
  const out: string[] = [];
  const err: string[] = [];
  const program = buildProgram((p) => (plan = p), { out: (s) => out.push(s), err: (s) => err.push(s) });
  if (argv.length === 0) return { kind: 'help', text: program.helpInformation() };
  const { words, cmd } = commandOf(program, argv);
  const seeHelp = `(dsf ${[...words, '--help'].join(' ')} lists the ${words.length > 0 && cmd.commands.length === 0 ? 'options' : 'commands'})`;
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CliUsageError) throw new CliUsageError(`${words.length > 0 ? `${words.join(' ')}: ` : ''}${e.message}`, seeHelp);
    if (!(e instanceof CommanderError)) throw e;
    // --help, and `dsf help COMMAND` (commander.help with exit code 0)
    if (e.code === 'commander.helpDisplayed' || (e.code === 'commander.help' && e.exitCode === 0)) return { kind: 'help', text: out.join('') };
    if (e.code === 'commander.help') {
      // a group without its command (`dsf dsim`): commander printed the group's help as the error
      const names = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
      throw new CliUsageError(`${words.length > 0 ? `${words.join(' ')}: ` : ''}expected a command: ${names.join(', ')}`, err.join('').trimEnd());
    }
    throw new CliUsageError(`${words.length > 0 ? `${words.join(' ')}: ` : ''}${e.message.replace(/^error: /, '')}`, seeHelp);
  }
  if (!plan) throw new CliUsageError(`${words.join(' ') || 'dsf'}: nothing to do`, seeHelp);
  return { kind: 'plan', plan };
}
