/**
 * The sample database of `npm start`: dbid 1, 4 KiB blocks, ASSO 128 blocks, DATA 768 blocks
 * (3.5 MiB in all), two files. Admin blocks are ASSO 1..10 (GCB, DSST, FCB+FDT of 4 slots).
 */
import type { Geometry } from '@deltaflow/blockdb';

export function sampleGeometry(): Geometry {
  return {
    asso: { blockSize: 4096, blocks: 128 },
    data: { blockSize: 4096, blocks: 768 },
    maxFiles: 4,
    files: [
      {
        file: 1,
        extents: [
          { kind: 'DS', from: 1, to: 384 },
          { kind: 'AC', from: 11, to: 20 },
          { kind: 'IX', from: 21, to: 60 },
        ],
      },
      {
        file: 2,
        extents: [
          { kind: 'DS', from: 385, to: 768 },
          { kind: 'AC', from: 61, to: 70 },
          { kind: 'IX', from: 71, to: 110 },
        ],
      },
    ],
  };
}
