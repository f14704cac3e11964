import { CliUsageError, parseArgs } from './args';

describe('dsf argument parser', () => {
  it('parses an online full save with defaults', () => {
    expect(parseArgs(['save', '--dbid', '7', '--full', '--dest', 'full-1'])).toEqual({
      kind: 'save',
      dbid: 7,
      mode: 'full',
      online: true,
      dest: 'full-1',
      timeoutSec: 600,
    });
  });

  it('parses an offline delta save with --opt=value forms', () => {
    expect(parseArgs(['save', '--dbid=12', '--delta', '--offline', '--dest=d.2', '--timeout=30'])).toMatchObject({ mode: 'delta', online: false, dbid: 12, dest: 'd.2', timeoutSec: 30 });
  });

  it('parses the DSIM commands and saves list', () => {
    expect(parseArgs(['dsim', 'unload', '--dbid', '1', '--dest', 'u1'])).toMatchObject({ kind: 'dsim-unload', dest: 'u1' });
    expect(parseArgs(['dsim', 'reset', '--dbid', '1'])).toMatchObject({ kind: 'dsim-reset', dbid: 1 });
    expect(parseArgs(['dsim', 'unload', '--dbid', '1', '--dest', 'u1', '--wait', '--id', 'job-7'])).toMatchObject({ kind: 'dsim-unload', wait: true, id: 'job-7' });
    expect(parseArgs(['save', '--dbid', '1', '--delta', '--dest', 'd', '--id', 'nightly.3'])).toMatchObject({ kind: 'save', id: 'nightly.3' });
    expect(parseArgs(['dsim', 'print', '--dbid', '1', '--blocks', 'ASSO:1-10,DATA:7'])).toEqual({
      kind: 'dsim-print',
      dbid: 1,
      blocks: [{ area: 'ASSO', from: 1, to: 10 }, { area: 'DATA', from: 7, to: 7 }],
    });
    expect(parseArgs(['saves', 'list', '--dbid', '3'])).toEqual({ kind: 'saves-list', dbid: 3 });
    expect(parseArgs([])).toEqual({ kind: 'help' });
  });

  it.each([
    [['save', '--dbid', '7', '--dest', 'x'], /exactly one of --full or --delta/],
    [['save', '--dbid', '7', '--full', '--delta', '--dest', 'x'], /exactly one of --full or --delta/],
    [['save', '--full', '--dest', 'x'], /--dbid is required/],
    [['save', '--dbid', '0', '--full', '--dest', 'x'], /--dbid: expected a database id 1..65535, got "0"/],
    [['save', '--dbid', '7x', '--full', '--dest', 'x'], /--dbid: expected/],
    [['save', '--dbid', '7', '--full'], /--dest is required/],
    [['save', '--dbid', '7', '--full', '--dest', '../etc'], /--dest: expected a plain data set name/],
    [['save', '--dbid', '7', '--full', '--dest', 'a/b'], /--dest: expected a plain data set name/],
    [['save', '--dbid', '7', '--full', '--dest'], /--dest needs a value/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--id', 'has space'], /--id: expected 1..100 printable ASCII/],
    [['dsim', 'reset', '--dbid', '1', '--wait'], /unknown option --wait here/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--bogus'], /unknown option --bogus/],
    [['save', '--dbid', '7', '--dbid', '8', '--full', '--dest', 'x'], /given twice/],
    [['save', '--dbid', '7', '--full', '--dest', 'x', '--timeout', '0'], /--timeout: expected seconds/],
    [['save', '--dbid', '7', '--full=yes', '--dest', 'x'], /takes no value/],
    [['dsim', 'bogus'], /dsim: expected unload, reset or print, got "bogus"/],
    [['dsim', 'print', '--dbid', '1', '--blocks', 'FOO:1'], /--blocks: expected AREA:FROM\[-TO\]/],
    [['dsim', 'print', '--dbid', '1', '--blocks', 'DATA:5-2'], /FROM ≤ TO/],
    [['dsim', 'reset', '--dbid', '1', '--dest', 'x'], /unknown option --dest/],
    [['saves'], /saves: expected list, got nothing/],
    [['restore'], /unknown command "restore"/],
    [['save', 'extra'], /unexpected argument "extra"/],
  ])('rejects %j clearly', (argv, message) => {
    expect(() => parseArgs(argv as string[])).toThrow(CliUsageError);
    expect(() => parseArgs(argv as string[])).toThrow(message as RegExp);
  });
});
