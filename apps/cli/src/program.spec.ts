import { registry } from '@deltaflow/contracts';
import { CliUsageError } from './options';
import type { SendPlan } from './plan';
import { parseCommandLine } from './program';
import { runCli } from './run';
import { streamDefineMessage } from './commands/streams';

/** The message a command line would send (checked against its contract). */
function sends(...argv: string[]) {
  const parsed = parseCommandLine(argv);
  if (parsed.kind !== 'plan' || parsed.plan.kind !== 'send') throw new Error(`${argv.join(' ')}: not a send plan`);
  registry.get(parsed.plan.message.type)!.validate(parsed.plan.message);
  return parsed.plan;
}

const id = { correlationId: expect.stringMatching(/^cli-[0-9a-f-]{36}$/) };

describe('dsf command lines → the command sent', () => {
  it('save', () => {
    expect(sends('save', '--dbid', '7', '--full', '--dest', 'full-1')).toEqual({
      kind: 'send',
      message: { type: 'SaveRequested', ...id, dbid: 7, kind: 'full', online: true, destination: { kind: 'directory', name: 'full-1' } },
      json: false,
      timeoutSec: 600,
      follow: true,
    });
    expect(sends('save', '--dbid=12', '--delta', '--offline', '--dest=d.2', '--timeout=30', '--id', 'nightly.3', '--json')).toMatchObject({
      message: { type: 'SaveRequested', correlationId: 'nightly.3', dbid: 12, kind: 'delta', online: false },
      json: true,
      timeoutSec: 30,
    });
    expect(sends('save', '--dbid', '1', '--full', '--stream', 'daily').message).toMatchObject({ destination: { kind: 'stream', stream: 'daily' } });
    expect(sends('save', '--dbid', '1', '--full', '--stream', 'daily', '--dest', 'mon').message).toMatchObject({ destination: { kind: 'stream', stream: 'daily', name: 'mon' } });
    expect(sends('merge', '--dbid', '1', '--full', '--dest', 'wk', '--stream', 'daily', 'mon', 'tue').message).toMatchObject({ output: { kind: 'stream', stream: 'daily', name: 'wk' } });
    expect(sends('dsim', 'unload', '--dbid', '1', '--dest', 'tue.dsim', '--stream', 'daily').message).toMatchObject({ destination: { kind: 'stream', stream: 'daily', name: 'tue.dsim' } });
  });

  it('dsim unload, reset, snapshot, print', () => {
    expect(sends('dsim', 'unload', '--dbid', '1', '--dest', 'u1')).toMatchObject({
      message: { type: 'DsimUnloadRequested', ...id, dbid: 1, destination: { kind: 'directory', name: 'u1' } },
      follow: true,
    });
    expect(sends('dsim', 'unload', '--dbid', '1', '--dest', 'u1', '--wait', '--id', 'job-7')).toMatchObject({ message: { correlationId: 'job-7' }, retryWhileNotComplete: true });
    expect(sends('dsim', 'unload', '--dbid', '1', '--dest', 'u1')).not.toHaveProperty('retryWhileNotComplete');
    expect(sends('dsim', 'reset', '--dbid', '1').message).toEqual({ type: 'DsimResetRequested', ...id, dbid: 1 });
    expect(sends('dsim', 'reset', '--dbid', '1', '--force').message).toEqual({ type: 'DsimResetRequested', ...id, dbid: 1, force: true });
    expect(sends('dsim', 'snapshot', '--dbid', '2', '--dest', 'snap').message).toEqual({ type: 'DsimSnapshotRequested', ...id, dbid: 2, destination: 'snap' });
    expect(sends('dsim', 'print', '--dbid', '1', '--blocks', 'ASSO:1-10,DATA:7')).toMatchObject({
      message: { type: 'DsimPrintRequested', dbid: 1, blocks: [{ area: 'ASSO', from: 1, to: 10 }, { area: 'DATA', from: 7, to: 7 }] },
      follow: false,
    });
  });

  it('merge', () => {
    expect(sends('merge', '--dbid', '1', '--dest', 'merged', 'mon-full', 'tue', 'tue.dsim', '@dsim', 'stream:daily/wed').message).toEqual({
      type: 'MergeRequested',
      ...id,
      dbid: 1,
      inputs: ['mon-full', 'tue', 'tue.dsim', '@dsim', 'stream:daily/wed'],
      output: { kind: 'directory', name: 'merged' },
    });
    const p = sends('merge', '--dbid', '1', '--dest', 'new-full', '--full', '--dsim-wait', '120', 'f', 'd1', '@dsim');
    expect(p.message).toMatchObject({ full: true, dsimWaitSec: 120 });
    expect(p.timeoutSec).toBe(720); // the DSIM wait comes before the outcome
    expect(sends('merge', '--dbid', '1', '--dest', 'x', '--dsim-wait', '120', '--timeout', '60', 'a').timeoutSec).toBe(60);
  });

  it('restore', () => {
    expect(sends('restore', '--dbid', '1', '--target', 'r1', 'full', 'd1', 'd1.dsim').message).toEqual({
      type: 'RestoreRequested',
      ...id,
      dbid: 1,
      inputs: ['full', 'd1', 'd1.dsim'],
      target: 'r1',
    });
    expect(sends('restore', '--dbid', '1', '--target', 'r1', '--gcb', 'full').message).toMatchObject({ scope: { kind: 'gcb' } });
    expect(sends('restore', '--dbid', '1', '--target', 'r1', '--files', '3,7', 'full').message).toMatchObject({ scope: { kind: 'files', files: [3, 7] } });
    expect(sends('restore', '--dbid', '1', '--target', 'r1', '--fmove', '3:1200,7:4000', 'full').message).toMatchObject({
      scope: { kind: 'fmove', moves: [{ file: 3, rabn: 1200 }, { file: 7, rabn: 4000 }] },
    });
    expect(sends('restore', '--dbid', '1', '--target', 'r1', '--resume', '--into-database', '--dsim-wait', '5', 'd2', '@dsim').message).toMatchObject({
      resume: true,
      intoDatabase: true,
      dsimWaitSec: 5,
    });
  });

  it('shadow init, apply, regenerate', () => {
    expect(sends('shadow', 'init', '--dbid', '1', '--shadow', 'sh1', 'full', 'd1').message).toEqual({ type: 'ShadowInitRequested', ...id, dbid: 1, shadow: 'sh1', inputs: ['full', 'd1'] });
    expect(sends('shadow', 'apply', '--shadow', 'sh1', '--dbid', '1', 'd2', 'd2.dsim').message).toEqual({ type: 'ShadowApplyRequested', ...id, dbid: 1, shadow: 'sh1', inputs: ['d2', 'd2.dsim'] });
    expect(sends('shadow', 'regenerate', '--shadow', 'sh1', '--dbid', '1').message).toEqual({ type: 'ShadowRegenerateRequested', ...id, dbid: 1, shadow: 'sh1' });
    expect(sends('shadow', 'regenerate', '--shadow', 'sh1', '--dbid', '1', '--to-lsn', '9000').message).toMatchObject({ toLsn: 9000 });
  });

  it('unload', () => {
    expect(sends('unload', '--dbid', '1', '--file', '12', '--out', 'file12', 'full', 'd1', '@dsim').message).toEqual({
      type: 'FileUnloadRequested',
      ...id,
      dbid: 1,
      file: 12,
      out: 'file12',
      inputs: ['full', 'd1', '@dsim'],
    });
  });

  it('saves list and report ask the catalog', () => {
    const saves = parseCommandLine(['saves', 'list', '--dbid', '3']);
    expect(saves).toMatchObject({ kind: 'plan', plan: { kind: 'query', path: '/saves?dbid=3', json: false } });
    expect(parseCommandLine(['report', '--dbid', '4', '--json'])).toMatchObject({ kind: 'plan', plan: { kind: 'query', path: '/report?dbid=4', json: true } });
  });
});

describe('stream define', () => {
  it('sends the codec options under the StreamDefine contract\'s field names, and the message validates', () => {
    const m = streamDefineMessage('S1', { compression: 'zstd', encryption: 'aes-256-gcm', devices: { min: 1, max: 2 } });
    expect(m).toMatchObject({ type: 'StreamDefine', stream: 'S1', compression: 'zstd', encryption: 'aes-256-gcm', minDevices: 1, maxDevices: 2 });
    expect(() => registry.get('StreamDefine')!.validate(m)).not.toThrow();
    expect(streamDefineMessage('S1', {})).not.toHaveProperty('compression');
    expect(parseCommandLine(['stream', 'define', 'S1', '--compression', 'gzip', '--encryption', 'none', '--json'])).toMatchObject({ kind: 'plan', plan: { kind: 'run', command: 'stream define', json: true } });
  });
});

describe('bad command lines: exit 2, nothing sent', () => {
  it.each([
    [['save', '--dbid', '7', '--dest', 'x'], /save: give exactly one of --full or --delta/],
    [['save', '--dbid', '7', '--full', '--delta', '--dest', 'x'], /option '--full' cannot be used with option '--delta'/],
    [['save', '--full', '--dest', 'x'], /required option '--dbid <N>' not specified/],
    [['save', '--dbid', '0', '--full', '--dest', 'x'], /--dbid: expected a database id 1..65535, got "0"/],
    [['save', '--dbid', '7x', '--full', '--dest', 'x'], /--dbid: expected a database id/],
    [['save', '--dbid', '70000', '--full', '--dest', 'x'], /--dbid: expected a database id 1..65535, got "70000"/],
    [['save', '--dbid', '7', '--full'], /--dest NAME is required \(or --stream NAME\)/],
    [['save', '--dbid', '7', '--full', '--dest', '../etc'], /--dest: expected a plain data set name/],
    [['save', '--dbid', '7', '--full', '--dest', 'a/b'], /--dest: expected a plain data set name/],
    [['save', '--dbid', '7', '--full', '--dest', 'x.partial'], /--dest: expected a plain data set name/],
    [['save', '--dbid', '7', '--full', '--dest'], /option '--dest <NAME>' argument missing/],
    [['save', '--dbid', '7', '--dest', '--full'], /--dest needs a value \(got the option --full\)/],
    [['save', '--dbid', '7', '--full', '--stream', 'a/b'], /--stream: expected a stream name/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--id', 'has space'], /--id: expected 1..100 printable ASCII/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--bogus'], /unknown option '--bogus'/],
    [['save', '--dbid', '7', '--dbid', '8', '--full', '--dest', 'x'], /option --dbid given twice/],
    [['save', '--dbid', '7', '--full', '--full', '--dest', 'x'], /option --full given twice/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--timeout', '0'], /--timeout: expected seconds 1..86400, got "0"/],
    [['save', '--dbid', '7', '--full=yes', '--dest', 'x'], /unknown option '--full=yes'/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', 'extra'], /too many arguments for 'save'/],
    [['dsim'], /dsim: expected a command: unload, reset, snapshot, print/],
    [['dsim', 'bogus'], /unknown command 'bogus'/],
    [['help', 'bogus'], /^expected a command: save, dsim, saves, merge, restore, shadow, unload, report, upstream, stream, client-files, volumes, expire, catalog, history, schedule, retention$/],
    [['dsim', 'reset', '--dbid', '1', '--wait'], /unknown option '--wait'/],
    [['dsim', 'reset', '--dbid', '1', '--dest', 'x'], /unknown option '--dest'/],
    [['dsim', 'unload', '--dbid', '1'], /required option '--dest <NAME>' not specified/],
    [['dsim', 'print', '--dbid', '1', '--blocks', 'FOO:1'], /--blocks: expected AREA:FROM\[-TO\]/],
    [['dsim', 'print', '--dbid', '1', '--blocks', 'DATA:5-2'], /FROM ≤ TO/],
    [['dsim', 'print', '--dbid', '1', '--timeout', '5'], /unknown option '--timeout'/],
    [['dsim', 'snapshot', '--dbid', '1', '--dest', '.hidden'], /--dest: expected a plain data set name/],
    [['saves'], /saves: expected a command: list/],
    [['saves', 'list'], /required option '--dbid <N>' not specified/],
    [['restor'], /unknown command 'restor'.*Did you mean restore\?/s],
    [['merge', '--dbid', '1', '--dest', 'm'], /missing required argument 'INPUT'/],
    [['merge', '--dbid', '1', 'a', 'b'], /required option '--dest <NAME>' not specified/],
    [['merge', '--dbid', '1', '--dest', 'm', 'a', '../b'], /INPUT: expected a data set name .* got "\.\.\/b"/],
    [['merge', '--dbid', '1', '--dest', 'm', 'a', 'stream:x'], /INPUT: expected .*stream:STREAM\/FILE.* got "stream:x"/],
    [['merge', '--dbid', '1', '--dest', 'm', 'a', 'stream:s/../x'], /INPUT: expected/],
    [['merge', '--dbid', '1', '--dest', 'm', 'a', 'a'], /INPUT "a" given twice/],
    [['merge', '--dbid', '1', '--dest', 'm', '--dsim-wait', 'soon', 'a'], /--dsim-wait: expected seconds 0..86400, got "soon"/],
    [['merge', '--dbid', '1', '--dest', 'a/b', 'a'], /--dest: expected a plain data set name/],
    [['restore', '--dbid', '1', 'full'], /required option '--target <NAME>' not specified/],
    [['restore', '--dbid', '1', '--target', '../x', 'full'], /--target: expected a plain data set name/],
    [['restore', '--dbid', '1', '--target', 't', '--gcb', '--files', '3', 'full'], /option '--gcb' cannot be used with option '--files <F,F>'/],
    [['restore', '--dbid', '1', '--target', 't', '--files', '3', '--fmove', '3:10', 'full'], /cannot be used with option '--fmove/],
    [['restore', '--dbid', '1', '--target', 't', '--files', '3,x', 'full'], /--files: expected file numbers 1..65535, got "x"/],
    [['restore', '--dbid', '1', '--target', 't', '--files', '3,3', 'full'], /--files: file 3 given twice/],
    [['restore', '--dbid', '1', '--target', 't', '--fmove', '3-10', 'full'], /--fmove: expected FILE:RABN items/],
    [['restore', '--dbid', '1', '--target', 't', '--fmove', '3:0', 'full'], /--fmove: expected RABNs 1\.\./],
    [['restore', '--dbid', '1', '--target', 't', '--fmove', '3:10,3:20', 'full'], /--fmove: file 3 moved twice/],
    [['shadow', 'init', '--shadow', 's', 'full'], /required option '--dbid <N>' not specified/],
    [['shadow', 'init', '--dbid', '1', '--shadow', 'a/b', 'full'], /--shadow: expected a plain data set name/],
    [['shadow', 'apply', '--shadow', 's', 'd1'], /shadow apply: --dbid N is required for now/],
    [['shadow', 'regenerate', '--shadow', 's'], /shadow regenerate: --dbid N is required for now/],
    [['shadow', 'regenerate', '--shadow', 's', '--dbid', '1', '--to-lsn', '-1'], /--to-lsn: expected an LSN/],
    [['shadow', 'regenerate', '--shadow', 's', '--dbid', '1', 'extra'], /too many arguments/],
    [['unload', '--dbid', '1', '--out', 'o', 'full'], /required option '--file <F>' not specified/],
    [['unload', '--dbid', '1', '--file', '0', '--out', 'o', 'full'], /--file: expected a file number 1..65535, got "0"/],
    [['unload', '--dbid', '1', '--file', '3', '--out', '/etc/passwd', 'full'], /--out: expected a plain data set name/],
    [['report'], /required option '--dbid <N>' not specified/],
    [['report', '--dbid', '1', '--id', 'x'], /unknown option '--id'/],
    [['stream', 'define', 'S1', '--compression', 'lz4'], /option '--compression <CODEC>' argument 'lz4' is invalid\. Allowed choices are none, zstd, gzip, brotli/],
    [['stream', 'define', 'S1', '--encryption', 'aes-128'], /option '--encryption <CIPHER>' argument 'aes-128' is invalid\. Allowed choices are none, aes-256-gcm/],
    [['volumes', 'verify', 'v1'], /VOLSER: expected 1-6 of A-Z 0-9, got "v1"/],
    [['client-files', 'verify', 'x', '--stream', 'a/b'], /--stream: expected a stream name/],
    [['retention', 'set', '--dbid', '1'], /retention set: give --keep-saves K, --keep-days D \(or both\), or --clear/],
    [['retention', 'set', '--dbid', '1', '--keep-saves', '0'], /--keep-saves: expected a whole number from 1 to 1000000, got "0"/],
    [['retention', 'set', '--dbid', '1', '--keep-days', '2.5'], /--keep-days: expected a whole number/],
    [['retention', 'set', '--dbid', '1', '--keep-saves', '3', '--clear'], /cannot be used with option '--clear'/],
  ])('%j', (argv, message) => {
    expect(() => parseCommandLine(argv as string[])).toThrow(CliUsageError);
    expect(() => parseCommandLine(argv as string[])).toThrow(message as RegExp);
  });

  it('exits 2 with the message and where to look, without reaching for Kafka', async () => {
    const out: string[] = [];
    const err: string[] = [];
    // a broker address nothing listens on: a send would end in 3, not 2
    const io = { env: { KAFKA_BROKERS: '127.0.0.1:1' }, out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await runCli(['merge', '--dbid', '1', '--dest', 'm', 'a', 'a'], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual(['dsf: merge: INPUT "a" given twice', '(dsf merge --help lists the options)']);
  });

  it('with --json, a usage error is one JSON object on stdout', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['save', '--dbid', '0', '--full', '--dest', 'x', '--json'], { env: {}, out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0])).toEqual({ ok: false, code: 'USAGE', error: 'save: --dbid: expected a database id 1..65535, got "0"' });
  });

  it('a group without its command shows the group\'s help on stderr', async () => {
    const err: string[] = [];
    expect(await runCli(['shadow'], { env: {}, out: () => undefined, err: (l) => err.push(l) })).toBe(2);
    expect(err.join('\n')).toMatch(/shadow: expected a command: init, apply, regenerate[\s\S]*Usage: dsf shadow/);
  });
});

describe('generated --help', () => {
  const help = (...argv: string[]) => {
    const p = parseCommandLine([...argv, '--help']);
    if (p.kind !== 'help') throw new Error('no help');
    return p.text;
  };

  it.each([
    [['save'], ['--dbid <N>', '--full', '--delta', '--offline', '--dest <NAME>', '--stream <NAME>']],
    [['dsim', 'unload'], ['--dbid <N>', '--wait', '--dest <NAME>']],
    [['dsim', 'reset'], ['--dbid <N>', '--force']],
    [['dsim', 'snapshot'], ['--dbid <N>', '--dest <NAME>']],
    [['dsim', 'print'], ['--dbid <N>', '--blocks <RANGES>', '--json', '--id <ID>']],
    [['saves', 'list'], ['--dbid <N>', '--json', '--timeout <SEC>']],
    [['merge'], ['--dbid <N>', '--dest <NAME>', '--full', '--dsim-wait <SEC>', 'INPUT', '@dsim', 'stream:STREAM/FILE']],
    [['restore'], ['--dbid <N>', '--target <NAME>', '--gcb', '--files <F,F>', '--fmove <F:RABN,...>', '--resume', '--into-database', '--dsim-wait <SEC>', 'INPUT']],
    [['shadow', 'init'], ['--dbid <N>', '--shadow <NAME>', 'INPUT']],
    [['shadow', 'apply'], ['--dbid <N>', '--shadow <NAME>', 'INPUT']],
    [['shadow', 'regenerate'], ['--dbid <N>', '--shadow <NAME>', '--to-lsn <LSN>']],
    [['unload'], ['--dbid <N>', '--file <F>', '--out <NAME>', '--dsim-wait <SEC>', 'INPUT']],
    [['report'], ['--dbid <N>', '--json', '--timeout <SEC>']],
  ])('dsf %j --help', (words, options) => {
    const text = help(...(words as string[]));
    expect(text).toContain(`Usage: dsf ${(words as string[]).join(' ')}`);
    for (const o of options) expect(text).toContain(o);
    if (!['saves', 'report'].includes((words as string[])[0]) && (words as string[])[1] !== 'print') for (const o of ['--json', '--timeout <SEC>', '--id <ID>']) expect(text).toContain(o);
  });

  it('dsf --help lists every command and the exit codes; dsf alone prints it too', async () => {
    const text = help();
    for (const c of ['save', 'dsim', 'saves', 'merge', 'restore', 'shadow', 'unload', 'report']) expect(text).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(text).toMatch(/2 bad arguments/);
    expect(help('dsim')).toMatch(/unload[\s\S]*reset[\s\S]*snapshot[\s\S]*print/);
    const out: string[] = [];
    expect(await runCli([], { env: {}, out: (l) => out.push(l), err: () => undefined })).toBe(0);
    expect(out.join('\n')).toContain('Usage: dsf COMMAND [options]');
    expect(await runCli(['help', 'restore'], { env: {}, out: (l) => out.push(l), err: () => undefined })).toBe(0);
    expect(out.join('\n')).toContain('Usage: dsf restore [options] <INPUT...>');
    expect(await runCli(['dsim', 'help', 'unload'], { env: {}, out: (l) => out.push(l), err: () => undefined })).toBe(0);
    expect(out.join('\n')).toContain('Usage: dsf dsim unload [options]');
  });
});

describe('plans are checked against the contract', () => {
  it('every send plan validates', () => {
    const p: SendPlan = sends('restore', '--dbid', '65535', '--target', 'x'.repeat(128), '--fmove', '1:9007199254740991', 'a');
    expect(p.message).toMatchObject({ dbid: 65535 });
  });
});
