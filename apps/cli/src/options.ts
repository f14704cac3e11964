/**
 * Validation of `dsf`'s option values and inputs, shared by every command group: each parser
 * takes the text the user typed and returns the typed value, or throws a CliUsageError that
 * names the option and what was expected (exit 2, nothing sent). Commander calls them as
 * option parsers (`new Option(...).argParser(dbidArg)`), so a bad value stops the parse.
 */
import { Command, Option } from 'commander';
import { isSafeName, MAX_STREAM_NAME, SAFE_NAME_RULE } from '@deltaflow/core';
import { ORIGINAL_DSIM_INPUT } from '@deltaflow/contracts';

export class CliUsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    /** where to look next: the command's --help, or the help of a group given without its command */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}

const quote = (v: string) => JSON.stringify(v);

/** A value that is itself an option means the option before it lacked one (`--dest --full`). */
function valueOf(flag: string, v: string): string {
  if (v.startsWith('--')) throw new CliUsageError(`${flag} needs a value (got the option ${v})`);
  return v;
}

function intIn(flag: string, v: string, min: number, max: number, what: string): number {
  const n = Number(valueOf(flag, v));
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new CliUsageError(`${flag}: expected ${what} ${min}..${max}, got ${quote(v)}`);
  return n;
}

export const DEFAULT_TIMEOUT_SEC = 600;

export const dbidArg = (v: string) => intIn('--dbid', v, 1, 65535, 'a database id');
export const timeoutArg = (v: string) => intIn('--timeout', v, 1, 86_400, 'seconds');
export const dsimWaitArg = (v: string) => intIn('--dsim-wait', v, 0, 86_400, 'seconds');
export const fileArg = (v: string) => intIn('--file', v, 1, 65535, 'a file number');
export const lsnArg = (v: string) => intIn('--to-lsn', v, 0, Number.MAX_SAFE_INTEGER, 'an LSN');

/** A plain name (data set, restore target, shadow, file unload output): @deltaflow/core's safe-name rule. */
export function nameArg(flag: string): (v: string) => string {
  return (v) => {
    if (!isSafeName(valueOf(flag, v))) throw new CliUsageError(`${flag}: expected a plain data set name, ${SAFE_NAME_RULE}, no path; got ${quote(v)}`);
    return v;
  };
}

export function streamArg(flag: string): (v: string) => string {
  return (v) => {
    if (!isSafeName(valueOf(flag, v), MAX_STREAM_NAME)) throw new CliUsageError(`${flag}: expected a stream name of [A-Za-z0-9._-] (1..${MAX_STREAM_NAME}, starting with a letter or digit), got ${quote(v)}`);
    return v;
  };
}

/** --id: a correlation id; 100 characters leave room for the suffixes (.start, .end, .2) the system adds. */
export function idArg(v: string): string {
  if (!/^[\x21-\x7e]{1,100}$/.test(valueOf('--id', v))) throw new CliUsageError(`--id: expected 1..100 printable ASCII characters without spaces, got ${quote(v)}`);
  return v;
}

export type BlockRangeArg = { area: 'ASSO' | 'DATA'; from: number; to: number };

/** --blocks ASSO:1-10,DATA:7 */
export function blocksArg(v: string): BlockRangeArg[] {
  const out: BlockRangeArg[] = [];
  for (const part of valueOf('--blocks', v).split(',')) {
    const m = /^(ASSO|DATA):(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new CliUsageError(`--blocks: expected AREA:FROM[-TO] items (AREA = ASSO or DATA), got ${quote(part)}`);
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    if (from < 1 || to < from || !Number.isSafeInteger(to)) throw new CliUsageError(`--blocks: ${part}: RABNs start at 1 and FROM ≤ TO`);
    out.push({ area: m[1] as 'ASSO' | 'DATA', from, to });
  }
  return out;
}

/** --files 3,7: file numbers, each once. */
export function filesArg(v: string): number[] {
  const files = valueOf('--files', v).split(',').map((f) => intIn('--files', f.trim(), 1, 65535, 'file numbers'));
  const twice = files.find((f, i) => files.indexOf(f) !== i);
  if (twice !== undefined) throw new CliUsageError(`--files: file ${twice} given twice`);
  return files;
}

/** --fmove 3:1200,7:4000: each file restored to its new RABN. */
export function fmoveArg(v: string): Array<{ file: number; rabn: number }> {
  const moves = valueOf('--fmove', v)
    .split(',')
    .map((item) => {
      const m = /^(\d+):(\d+)$/.exec(item.trim());
      if (!m) throw new CliUsageError(`--fmove: expected FILE:RABN items (e.g. 3:1200,7:4000), got ${quote(item)}`);
      return { file: intIn('--fmove', m[1], 1, 65535, 'file numbers'), rabn: intIn('--fmove', m[2], 1, Number.MAX_SAFE_INTEGER, 'RABNs') };
    });
  const twice = moves.find((mv, i) => moves.findIndex((o) => o.file === mv.file) !== i);
  if (twice !== undefined) throw new CliUsageError(`--fmove: file ${twice.file} moved twice`);
  return moves;
}

/**
 * The inputs of a merge, restore, shadow or file unload: data set names (as given to --dest),
 * `stream:STREAM/FILE` (a client file on a stream) or `@dsim` (the database's original DSIM),
 * each once.
 */
export function inputsArg(values: readonly string[]): string[] {
  for (const v of values) {
    if (v.startsWith('-')) throw new CliUsageError(`unknown option ${v}`);
    if (v === ORIGINAL_DSIM_INPUT || isSafeName(v)) continue;
    const m = /^stream:([^/]+)\/(.+)$/.exec(v);
    if (m && isSafeName(m[1], MAX_STREAM_NAME) && isSafeName(m[2])) continue;
    throw new CliUsageError(`INPUT: expected a data set name (${SAFE_NAME_RULE}), stream:STREAM/FILE or ${ORIGINAL_DSIM_INPUT}, got ${quote(v)}`);
  }
  const twice = values.find((v, i) => values.indexOf(v) !== i);
  if (twice !== undefined) throw new CliUsageError(`INPUT ${quote(twice)} given twice`);
  return [...values];
}

/** The options every command that sends has: --json, --timeout, --id. */
export interface CommonOptions {
  json?: boolean;
  timeout?: number;
  id?: string;
}

export function withCommonOptions(cmd: Command, o: { follows?: boolean } = {}): Command {
  cmd.option('--json', 'print exactly one JSON object with the outcome on stdout (progress goes to stderr)');
  if (o.follows !== false) cmd.addOption(new Option('--timeout <SEC>', `give up waiting for the outcome after SEC seconds (exit 3; default ${DEFAULT_TIMEOUT_SEC})`).argParser(timeoutArg));
  cmd.addOption(new Option('--id <ID>', 'the correlation id of the command and its outcome events (default: a fresh cli-<uuid>)').argParser(idArg));
  return cmd;
}

/**
 * Refuses an option given twice (commander keeps the last one silently): `--dbid 7 --dbid 8`
 * is a mistake whichever was meant. Applied to every option of `cmd` and its subcommands, for one
 * parse (a program is built per command line).
 */
export function refuseRepeatedOptions(cmd: Command): void {
  const seen = new Set<string>();
  for (const opt of cmd.options) {
    const name = opt.attributeName();
    cmd.on(`option:${opt.name()}`, () => {
      if (seen.has(name)) throw new CliUsageError(`option ${opt.long ?? opt.flags} given twice`);
      seen.add(name);
    });
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}

/** Catalog queries answer at once or not at all. */
export const QUERY_TIMEOUT_SEC = 30;
