import fc from 'fast-check';
import { DsidParseError } from './errors';
import { formatDsid, parseDsid, MAX_TIMESTAMP } from './format';

const T = Date.UTC(2026, 10, 22, 10, 0, 0);

describe('parseDsid / formatDsid', () => {
  it('prints the seed form 4/0-2/t3 with an ISO time stamp and the lineage', () => {
    const d = { full: 4, deltaFrom: 0, deltaTo: 2, timestamp: T, lineage: 'A>4:0#1' };
    expect(formatDsid(d)).toBe('4/0-2/2026-11-22T10:00:00.000Z@A>4:0#1');
    expect(parseDsid('4/0-2/2026-11-22T10:00:00.000Z@A>4:0#1')).toEqual(d);
  });

  it('prints a single delta number alone', () => {
    expect(formatDsid({ full: 1, deltaFrom: 3, deltaTo: 3, timestamp: T, lineage: 'A' })).toBe(
      '1/3/2026-11-22T10:00:00.000Z@A',
    );
  });

  it.each([
    ['', 'lineage'],
    ['4/0/2026-11-22T10:00:00.000Z', 'lineage'],
    ['4/0/2026-11-22T10:00:00.000Z@', 'lineage'],
    ['4/0/2026-11-22T10:00:00.000Z@a b', 'lineage'],
    ['4/0/2026-11-22T10:00:00.000Z@A>1:0', 'lineage'],
    ['4/0/2026-11-22T10:00:00.000Z@A>1:0#0', 'lineage'],
    ['04/0/2026-11-22T10:00:00.000Z@A', 'dsid'],
    ['4/x/2026-11-22T10:00:00.000Z@A', 'dsid'],
    ['0/0/2026-11-22T10:00:00.000Z@A', 'full'],
    ['4/2-1/2026-11-22T10:00:00.000Z@A', 'deltaTo'],
    ['4/2-2/2026-11-22T10:00:00.000Z@A', 'deltaTo'],
    ['4/0/t3@A', 'timestamp'],
    ['4/0/2026-11-22T10:00:00Z@A', 'timestamp'],
    ['4/0/2026-02-30T10:00:00.000Z@A', 'timestamp'],
    ['4/0/2026-11-22T10:00:00.000+01:00@A', 'timestamp'],
  ])('rejects %j naming %s', (text, field) => {
    let err: unknown;
    try {
      parseDsid(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DsidParseError);
    expect((err as DsidParseError).code).toBe('VALIDATION');
    expect((err as DsidParseError).field).toBe(field);
  });

  it('refuses to print a malformed DSID', () => {
    expect(() => formatDsid({ full: 1, deltaFrom: 2, deltaTo: 1, timestamp: T, lineage: 'A' })).toThrow(DsidParseError);
    expect(() => formatDsid({ full: 1, deltaFrom: 0, deltaTo: 0, timestamp: -1, lineage: 'A' })).toThrow(/time stamp/);
    expect(() => formatDsid({ full: 1.5, deltaFrom: 0, deltaTo: 0, timestamp: T, lineage: 'A' })).toThrow(/full/);
  });

  const lineageArb = fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
      fc.array(fc.tuple(fc.nat(1e6), fc.nat(1e6), fc.integer({ min: 1, max: 1e6 })), { maxLength: 4 }),
    )
    .map(([root, forks]) => root + forks.map(([f, d, b]) => `>${f}:${d}#${b}`).join(''));
  const dsidArb = fc
    .tuple(fc.integer({ min: 1, max: 1e9 }), fc.nat(1e6), fc.nat(1e6), fc.integer({ min: 0, max: MAX_TIMESTAMP }), lineageArb)
    .map(([full, a, b, timestamp, lineage]) => ({
      full,
      deltaFrom: Math.min(a, b),
      deltaTo: Math.max(a, b),
      timestamp,
      lineage,
    }));

  it('round-trips every well-formed DSID exactly (value → text → value → text)', () => {
    fc.assert(
      fc.property(dsidArb, (d) => {
        const text = formatDsid(d);
        expect(parseDsid(text)).toEqual(d);
        expect(formatDsid(parseDsid(text))).toBe(text);
      }),
    );
  });

  it('never throws anything but DsidParseError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          expect(formatDsid(parseDsid(s))).toBe(s);
        } catch (e) {
          expect(e).toBeInstanceOf(DsidParseError);
        }
      }),
    );
  });
});
