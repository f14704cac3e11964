/**
 * The `dsf` command line, parsed into typed commands. Every mistake is a CliUsageError naming
 * the option and what was expected; nothing is sent before the whole line is valid.
 *
 *   dsf save --dbid N --full|--delta [--offline] --dest NAME [--timeout SEC] [--id ID]
 *   dsf dsim unload --dbid N --dest NAME [--wait] [--timeout SEC] [--id ID]
 *   dsf dsim reset --dbid N [--timeout SEC] [--id ID]
 *   dsf dsim print --dbid N [--blocks ASSO:1-10,DATA:7]
 *   dsf saves list --dbid N
 */
export type BlockRangeArg = { area: 'ASSO' | 'DATA'; from: number; to: number };

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'save'; dbid: number; mode: 'full' | 'delta'; online: boolean; dest: string; timeoutSec: number; id?: string }
  | { kind: 'dsim-unload'; dbid: number; dest: string; timeoutSec: number; wait: boolean; id?: string }
  | { kind: 'dsim-reset'; dbid: number; timeoutSec: number; id?: string }
  | { kind: 'dsim-print'; dbid: number; blocks?: BlockRangeArg[] }
  | { kind: 'saves-list'; dbid: number };

export class CliUsageError extends Error {
  readonly code = 'VALIDATION';
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

export const USAGE = `usage:
  dsf save --dbid N --full|--delta [--offline] --dest NAME [--timeout SEC] [--id ID]
  dsf dsim unload --dbid N --dest NAME [--wait] [--timeout SEC] [--id ID]
  dsf dsim reset --dbid N [--timeout SEC] [--id ID]
  dsf dsim print --dbid N [--blocks ASSO:1-10,DATA:7]
  dsf saves list --dbid N
  --id ID   the command's correlation id (default: a fresh one); the save's sync points are ID.start/ID.end
  --wait    unload: wait for the DSIM to complete (its save's end sync) instead of failing DSIM_NOT_COMPLETE
environment: KAFKA_BROKERS (host:port,...), CATALOG_URL (for saves list)`;

const FLAGS = new Set(['--full', '--delta', '--offline', '--wait', '--help', '-h']);
const VALUED = new Set(['--dbid', '--dest', '--timeout', '--blocks', '--id']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function options(args: readonly string[], allowed: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (!a.startsWith('-')) throw new CliUsageError(`unexpected argument ${JSON.stringify(a)}`);
    if (!allowed.includes(a)) throw new CliUsageError(`unknown option ${a} here (allowed: ${allowed.join(' ')})`);
    if (out.has(a)) throw new CliUsageError(`option ${a} given twice`);
    if (FLAGS.has(a)) {
      if (value !== undefined) throw new CliUsageError(`option ${a} takes no value`);
      out.set(a, true);
    } else if (VALUED.has(a)) {
      if (value === undefined) {
        value = args[++i];
        if (value === undefined || value.startsWith('--')) throw new CliUsageError(`option ${a} needs a value`);
      }
      out.set(a, value);
    }
  }
  return out;
}

function dbidOf(o: Map<string, string | true>): number {
  const v = o.get('--dbid');
  if (v === undefined) throw new CliUsageError('--dbid is required (a database id 1..65535)');
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1 || n > 65535) throw new CliUsageError(`--dbid: expected a database id 1..65535, got ${JSON.stringify(v)}`);
  return n;
}

function destOf(o: Map<string, string | true>): string {
  const v = o.get('--dest');
  if (v === undefined) throw new CliUsageError('--dest is required (a data set name in the data set directory)');
  if (typeof v !== 'string' || !NAME.test(v) || v.endsWith('.partial'))
    throw new CliUsageError(`--dest: expected a plain data set name of [A-Za-z0-9._-] (1..128, no path, not starting with . _ -), got ${JSON.stringify(v)}`);
  return v;
}

function timeoutOf(o: Map<string, string | true>): number {
  const v = o.get('--timeout');
  if (v === undefined) return 600;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < 1 || n > 86_400) throw new CliUsageError(`--timeout: expected seconds 1..86400, got ${JSON.stringify(v)}`);
  return n;
}

function idOf(o: Map<string, string | true>): { id?: string } {
  const v = o.get('--id');
  if (v === undefined) return {};
  if (typeof v !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(v)) throw new CliUsageError(`--id: expected 1..100 printable ASCII characters without spaces, got ${JSON.stringify(v)}`);
  return { id: v };
}

function blocksOf(o: Map<string, string | true>): BlockRangeArg[] | undefined {
  const v = o.get('--blocks');
  if (v === undefined) return undefined;
  const out: BlockRangeArg[] = [];
  for (const part of String(v).split(',')) {
    const m = /^(ASSO|DATA):(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new CliUsageError(`--blocks: expected AREA:FROM[-TO] items (AREA = ASSO or DATA), got ${JSON.stringify(part)}`);
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    if (from < 1 || to < from) throw new CliUsageError(`--blocks: ${part}: RABNs start at 1 and FROM ≤ TO`);
    out.push({ area: m[1] as 'ASSO' | 'DATA', from, to });
  }
  return out;
}

/** Parses the arguments after `dsf`. */
export function parseArgs(argv: readonly string[]): CliCommand {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { kind: 'help' };
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'save': {
      const o = options(rest, ['--dbid', '--full', '--delta', '--offline', '--dest', '--timeout', '--id']);
      if (o.has('--full') === o.has('--delta')) throw new CliUsageError('save: give exactly one of --full or --delta');
      return { kind: 'save', dbid: dbidOf(o), mode: o.has('--full') ? 'full' : 'delta', online: !o.has('--offline'), dest: destOf(o), timeoutSec: timeoutOf(o), ...idOf(o) };
    }
    case 'dsim': {
      const [sub, ...more] = rest;
      if (sub === 'unload') {
        const o = options(more, ['--dbid', '--dest', '--wait', '--timeout', '--id']);
        return { kind: 'dsim-unload', dbid: dbidOf(o), dest: destOf(o), timeoutSec: timeoutOf(o), wait: o.has('--wait'), ...idOf(o) };
      }
      if (sub === 'reset') {
        const o = options(more, ['--dbid', '--timeout', '--id']);
        return { kind: 'dsim-reset', dbid: dbidOf(o), timeoutSec: timeoutOf(o), ...idOf(o) };
      }
      if (sub === 'print') {
        const o = options(more, ['--dbid', '--blocks']);
        const blocks = blocksOf(o);
        return { kind: 'dsim-print', dbid: dbidOf(o), ...(blocks ? { blocks } : {}) };
      }
      throw new CliUsageError(`dsim: expected unload, reset or print, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
    }
    case 'saves': {
      const [sub, ...more] = rest;
      if (sub !== 'list') throw new CliUsageError(`saves: expected list, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`);
      return { kind: 'saves-list', dbid: dbidOf(options(more, ['--dbid'])) };
    }
    default:
      throw new CliUsageError(`unknown command ${JSON.stringify(verb)} (expected save, dsim or saves)`);
  }
}
