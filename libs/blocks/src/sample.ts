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

/**
 * The sample database's shape at another size: the same two files and admin region, with the DATA
 * area (4 KiB blocks) holding about `dataMiB` MiB, split between the two files' data storage.
 */
export function sampleGeometryOfSize(dataMiB: number): Geometry {
  if (!Number.isFinite(dataMiB) || dataMiB < 1 || dataMiB > 1024 * 1024) throw new RangeError(`database size must be 1..1048576 MiB, got ${dataMiB}`);
  const blocks = Math.max(4, Math.round((dataMiB * 1024 * 1024) / 4096));
  const half = Math.floor(blocks / 2);
  const g = sampleGeometry();
  return {
    ...g,
    data: { blockSize: 4096, blocks },
    files: g.files.map((f) => ({
      ...f,
      extents: f.extents.map((e) => (e.part !== 'DATA' ? e : f.file === 1 ? { part: 'DATA', from: 1, to: half } : { part: 'DATA', from: half + 1, to: blocks })),
    })),
  };
}
