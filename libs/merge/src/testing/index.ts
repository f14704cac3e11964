import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { mulberry32 } from '@deltaflow/core';
import { Area, Geometry, rangesContain } from '@deltaflow/blocks';
import type { DataSetKind, Dsid } from '@deltaflow/dsid';
import { DataSetWriter } from '@deltaflow/save-format';

/** Test support: a small block database with a DLOG, and helpers writing saves and DSIMs the way the services do. */

export const GEOMETRY: Geometry = {
  asso: { blockSize: 512, blocks: 64 },
  data: { blockSize: 1024, blocks: 128 },
  maxFiles: 3,
  files: [
    { file: 1, extents: [{ part: 'DATA', from: 1, to: 50 }, { part: 'AC', from: 9, to: 12 }, { part: 'INDEX', from: 13, to: 20 }] },
    { file: 2, extents: [{ part: 'DATA', from: 51, to: 100 }, { part: 'INDEX', from: 21, to: 30 }] },
  ],
};

export const T0 = 1_800_000_000_000;
export const dsid = (full: number, from: number, to: number, t: number, lineage = 'L1'): Dsid => ({
  full,
  deltaFrom: from,
  deltaTo: to,
  timestamp: T0 + t * 1000,
  lineage,
});

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

type Key = string;
const key = (area: Area, rabn: number): Key => `${area}:${rabn}`;
const unkey = (k: Key): { area: Area; rabn: number } => {
  const [a, r] = k.split(':');
  return { area: a as Area, rabn: Number(r) };
};

/** A source database with a DLOG (blocks changed since the last save). */
export class Sim {
  readonly db: BlockDatabase;
  dlog = new Set<Key>();
  private rnd: () => number;
  private version = 0;

  constructor(
    readonly dir: string,
    seed = 1,
    readonly geometry: Geometry = GEOMETRY,
  ) {
    this.db = BlockDatabase.create(path.join(dir, 'source'), { dbid: 7, geometry });
    this.rnd = mulberry32(seed);
    // Fill every used block so a full save holds distinct contents.
    for (const r of this.db.usedRanges) for (let b = r.from; b <= r.to; b++) this.write(r.area, b);
    this.dlog.clear();
  }

  /** Writes a new distinct image into one block and logs it. */
  write(area: Area, rabn: number): void {
    const bs = this.db.blockSize(area);
    const img = Buffer.alloc(bs, `${area}${rabn}v${++this.version};`);
    this.db.writeBlock(area, rabn, img);
    this.dlog.add(key(area, rabn));
  }

  /** Changes `n` random used blocks; returns their keys. */
  change(n: number): Set<Key> {
    const used = this.db.usedRanges;
    const out = new Set<Key>();
    while (out.size < n) {
      const r = used[Math.floor(this.rnd() * used.length)];
      const rabn = r.from + Math.floor(this.rnd() * (r.to - r.from + 1));
      this.write(r.area, rabn);
      out.add(key(r.area, rabn));
    }
    return out;
  }

  /**
   * Writes a save. Offline: blocks as they are. Online: `during` runs between the start sync and
   * the reads and blocks it changed are stored TORN (garbage) in the save, as a reader racing the
   * nucleus could see them; the DSIM (returned keys) must repair them.
   */
  async save(
    file: string,
    id: Dsid,
    kind: 'full' | 'delta',
    opts: { online?: boolean; during?: () => Set<Key>; lsn?: number } = {},
  ): Promise<Set<Key>> {
    const captured = new Set(this.dlog);
    this.dlog.clear();
    const torn = opts.during ? opts.during() : new Set<Key>();
    const admin = { area: 'ASSO' as Area, from: 1, to: 2 + 2 * this.geometry.maxFiles };
    const include = (area: Area, rabn: number) =>
      kind === 'full' || captured.has(key(area, rabn)) || rangesContain([admin], area, rabn);
    const w = await DataSetWriter.create(
      file,
      { dbid: 7, dsid: id, kind, online: !!opts.online, startLsn: opts.lsn ?? 1, endLsn: opts.lsn ?? 2, geometry: this.geometry },
      { fsync: false, chunkBytes: 8192 },
    );
    for (const r of this.db.usedRanges)
      for (const b of this.db.blocksIn(r)) {
        if (!include(b.area, b.rabn)) continue;
        const img = torn.has(key(b.area, b.rabn)) ? Buffer.alloc(b.image.length, 0xee) : b.image;
        await w.writeBlock(b.area, b.rabn, img);
      }
    await w.finish();
    return torn;
  }

  /** Writes the DSIM of an online save: the current image of every block in `changed`. */
  async dsim(file: string, id: Dsid, changed: Set<Key>, kind: 'unloaded-dsim' | 'original-dsim' = 'unloaded-dsim'): Promise<void> {
    await writeBlocks(file, { id, kind, online: false, geometry: this.geometry }, [...changed].map(unkey), (a, r) =>
      this.db.readBlock(a, r),
    );
  }
}

/** Writes a data set of the given blocks (sorted here) with images from `image`. */
export async function writeBlocks(
  file: string,
  h: { id: Dsid; kind: DataSetKind; online: boolean; geometry: Geometry },
  blocks: { area: Area; rabn: number }[],
  image: (area: Area, rabn: number) => Uint8Array,
): Promise<void> {
  const sorted = [...blocks].sort((x, y) => (x.area === y.area ? x.rabn - y.rabn : x.area === 'ASSO' ? -1 : 1));
  const w = await DataSetWriter.create(
    file,
    { dbid: 7, dsid: h.id, kind: h.kind, online: h.online, startLsn: 1, endLsn: 2, geometry: h.geometry },
    { fsync: false, chunkBytes: 8192 },
  );
  for (const b of sorted) await w.writeBlock(b.area, b.rabn, image(b.area, b.rabn));
  await w.finish();
}

/** Digest of the used blocks of the database in `dir`. */
export function digestOf(dir: string): string {
  const db = BlockDatabase.open(dir, { readOnly: true });
  try {
    return db.digest();
  } finally {
    db.close();
  }
}

/** The bytes of the area files of the database in `dir` (to compare two databases byte for byte). */
export function areaBytes(dir: string): Buffer {
  return Buffer.concat([fs.readFileSync(path.join(dir, 'ASSO')), fs.readFileSync(path.join(dir, 'DATA'))]);
}
