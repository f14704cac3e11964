import * as path from 'node:path';
import { dataSetPath } from './paths';

describe('data set paths', () => {
  it('resolves a plain name inside <dataDir>/datasets', () => {
    expect(dataSetPath('/d', 'full-1.sav')).toBe(path.resolve('/d/datasets/full-1.sav'));
  });
  it.each(['..', '../x', 'a/b', '.hidden', '', 'x.partial', 'a\\b', '-x', 'x'.repeat(129)])('refuses %j', (name) => {
    expect(() => dataSetPath('/d', name)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
