// Test fixtures of @deltaflow/blocks: a small geometry and deterministic block images.
import type { Geometry } from '../geometry';

export const SMALL_GEOMETRY: Geometry = {
  asso: { blockSize: 512, blocks: 64 },
  data: { blockSize: 1024, blocks: 256 },
  maxFiles: 4,
  files: [
    { file: 1, extents: [{ part: 'DATA', from: 1, to: 200 }, { part: 'AC', from: 20, to: 30 }] },
    { file: 2, extents: [{ part: 'DATA', from: 201, to: 256 }] },
  ],
};

export function fillImage(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

