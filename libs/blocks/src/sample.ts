/**
 * The sample database of `npm start`: dbid 1, 4 KiB blocks, ASSO 128 blocks, DATA 768 blocks
 * (3.5 MiB in all), two files. Admin blocks are ASSO 1..10 (GCB, DSST, FCB+FDT of 4 slots).
 */
import type { Geometry } from './geometry';

export function sampleGeometry(): Geometry {
  return {
    asso: { blockSize: 4096, blocks: 128 },
    data: { blockSize: 4096, blocks: 768 },
    maxFiles: 4,
    files: [
      {
        file: 1,
        extents: [
          { part: 'DATA', from: 1, to: 384 },
          { part: 'AC', from: 11, to: 20 },
          { part: 'INDEX', from: 21, to: 60 },
        ],
      },
      {
        file: 2,
        extents: [
          { part: 'DATA', from: 385, to: 768 },
          { part: 'AC', from: 61, to: 70 },
          { part: 'INDEX', from: 71, to: 110 },
        ],
      },
    ],
  };
}
