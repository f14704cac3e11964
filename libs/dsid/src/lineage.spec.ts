import { DsidParseError } from './errors';
import { forkLineage, formatLineage, isOnHistoryOf, parseLineage, rootLineage } from './lineage';

describe('lineage', () => {
  it('parses and prints root and forks', () => {
    const p = parseLineage('A>1:0#1>1:3#4');
    expect(p).toEqual({ root: 'A', forks: [{ full: 1, delta: 0, branch: 1 }, { full: 1, delta: 3, branch: 4 }] });
    expect(formatLineage(p)).toBe('A>1:0#1>1:3#4');
  });

  it('rejects malformed lineages', () => {
    for (const bad of ['', 'A B', 'A>', 'A>1:0', 'A>1:0#0', 'A>01:0#1', 'x'.repeat(41), 'A' + '>1:0#1'.repeat(400)])
      expect(() => parseLineage(bad)).toThrow(DsidParseError);
  });

  it('derives a root from the full save number and time stamp', () => {
    expect(rootLineage(1, 36)).toBe('F1T10');
    expect(() => parseLineage(rootLineage(99, Date.UTC(9999, 11, 31)))).not.toThrow();
  });

  it('a save is on the history of a branch only up to the fork point', () => {
    const B = forkLineage('A', 1, 2, 1);
    expect(B).toBe('A>1:2#1');
    expect(isOnHistoryOf({ full: 1, deltaTo: 2, lineage: 'A' }, B)).toBe(true);
    expect(isOnHistoryOf({ full: 1, deltaTo: 3, lineage: 'A' }, B)).toBe(false);
    expect(isOnHistoryOf({ full: 2, deltaTo: 0, lineage: 'A' }, B)).toBe(false);
    expect(isOnHistoryOf({ full: 1, deltaTo: 3, lineage: B }, B)).toBe(true);
    expect(isOnHistoryOf({ full: 1, deltaTo: 3, lineage: B }, 'A')).toBe(false);
    // nested: a fork of B at 1:4; A's saves up to 2 still belong, B's up to 4
    const C = forkLineage(B, 1, 4, 2);
    expect(isOnHistoryOf({ full: 1, deltaTo: 2, lineage: 'A' }, C)).toBe(true);
    expect(isOnHistoryOf({ full: 1, deltaTo: 4, lineage: B }, C)).toBe(true);
    expect(isOnHistoryOf({ full: 1, deltaTo: 5, lineage: B }, C)).toBe(false);
    // 'AB' is not a descendant of 'A' although it starts with it
    expect(isOnHistoryOf({ full: 1, deltaTo: 0, lineage: 'A' }, 'AB>1:0#1')).toBe(false);
  });
});
