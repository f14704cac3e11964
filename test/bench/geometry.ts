import type { Geometry } from '@deltaflow/blocks';

/** The benches' database shape: `dataBlocks` DATA blocks of `blockSize` in one file, 2048 ASSO blocks of 4 KiB. */
export function benchGeometry(dataBlocks: number, blockSize: number): Geometry {
  return {
    asso: { blockSize: 4096, blocks: 2048 },
    data: { blockSize, blocks: dataBlocks },
    maxFiles: 4,
    files: [{ file: 1, extents: [{ part: 'DATA', from: 1, to: dataBlocks }, { part: 'AC', from: 11, to: 2048 }] }],
  };
}
