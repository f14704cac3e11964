import * as path from 'node:path';
import { SMALL_GEOMETRY } from '@deltaflow/e2e-support';
import { dataSetPath } from './paths';
import { deltaRanges } from './save-runner';

describe('data set paths', () => {
  it('resolves a plain name inside <dataDir>/datasets', () => {
    expect(dataSetPath('/d', 'full-1.sav')).toBe(path.resolve('/d/datasets/full-1.sav'));
  });
  it.each(['..', '../x', 'a/b', '.hidden', '', 'x.partial', 'a\\b', '-x'])('refuses %j', (name) => {
    expect(() => dataSetPath('/d', name)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});

describe('delta save blocks', () => {
  it('are the admin blocks, the captured RABNs and the utility-marked parts, sorted and joined', () => {
    const r = deltaRanges(SMALL_GEOMETRY, {
      ranges: [{ area: 'DATA', from: 9, to: 9 }, { area: 'DATA', from: 3, to: 4 }],
      marks: [
        { file: 1, parts: ['AC'], ranges: [] },
        { file: 2, parts: ['DATA'], ranges: [{ area: 'DATA', from: 210, to: 211 }] },
      ],
    });
    expect(r).toEqual([
      { area: 'ASSO', from: 1, to: 10 },
      { area: 'ASSO', from: 20, to: 30 },
      { area: 'DATA', from: 3, to: 4 },
      { area: 'DATA', from: 9, to: 9 },
      { area: 'DATA', from: 210, to: 211 },
    ]);
  });
  it('refuses marks on a file the database does not define', () => {
    expect(() => deltaRanges(SMALL_GEOMETRY, { ranges: [], marks: [{ file: 3, parts: ['DATA'], ranges: [] }] })).toThrow(/file 3/);
  });
});
