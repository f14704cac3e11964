import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileRanges, rangesContain, usedRanges, validateGeometry, type Geometry } from '@deltaflow/blocks';
import { CodedError } from '@deltaflow/core';
import { BlockDatabase } from './index';

const geometry: Geometry = {
  asso: { blockSize: 1024, blocks: 40 },
  data: { blockSize: 2048, blocks: 50 },
  maxFiles: 3,
  files: [
    { file: 1, extents: [{ part: 'DATA', from: 1, to: 10 }, { part: 'AC', from: 9, to: 10 }, { part: 'INDEX', from: 11, to: 12 }] },
    { file: 3, extents: [{ part: 'DATA', from: 21, to: 25 }, { part: 'INDEX', from: 20, to: 20 }] },
  ],
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockdb-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const img = (size: number, seed: number) => Buffer.alloc(size, seed & 0xff);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CodedError);
    return (e as CodedError).code;
  }
  throw new Error('expected a coded error');
};

describe('BlockDatabase', () => {
  it('creates a directory with a header and two fixed-size area files, and reopens it', () => {
    const db = BlockDatabase.create(dir, { dbid: 7, geometry });
    db.writeBlock('DATA', 3, img(2048, 3));
    db.close();
    expect(fs.statSync(path.join(dir, 'ASSO')).size).toBe(40 * 1024);
    expect(fs.statSync(path.join(dir, 'DATA')).size).toBe(50 * 2048);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'header.json'), 'utf8')).dbid).toBe(7);
    const again = BlockDatabase.open(dir, { readOnly: true });
    expect(again.dbid).toBe(7);
    expect(again.geometry).toEqual(validateGeometry(geometry));
    expect(Buffer.from(again.readBlock('DATA', 3))).toEqual(img(2048, 3));
    expect(Buffer.from(again.readBlock('DATA', 4))).toEqual(Buffer.alloc(2048));
    expect(code(() => again.writeBlock('DATA', 3, img(2048, 1)))).toBe('READ_ONLY');
    again.close();
  });

  it('rejects bad addresses and images with specific codes and changes nothing', () => {
    const db = BlockDatabase.create(dir, { dbid: 1, geometry });
    db.writeBlock('ASSO', 40, img(1024, 9));
    expect(code(() => db.readBlock('FOO' as any, 1))).toBe('AREA_INVALID');
    expect(code(() => db.readBlock('ASSO', 0))).toBe('RABN_OUT_OF_RANGE');
    expect(code(() => db.readBlock('ASSO', 41))).toBe('RABN_OUT_OF_RANGE');
    expect(code(() => db.readBlock('ASSO', 1.5))).toBe('RABN_OUT_OF_RANGE');
    expect(code(() => db.writeBlock('ASSO', 40, img(1023, 1)))).toBe('IMAGE_LENGTH');
    expect(code(() => db.writeBlock('DATA', 1, img(1024, 1)))).toBe('IMAGE_LENGTH');
    expect(code(() => db.writeBlocks('ASSO', 40, img(2048, 1)))).toBe('RABN_OUT_OF_RANGE');
    expect(code(() => db.readBlock('ASSO', 1, Buffer.alloc(10)))).toBe('IMAGE_LENGTH');
    expect(Buffer.from(db.readBlock('ASSO', 40))).toEqual(img(1024, 9));
    db.close();
    expect(code(() => db.readBlock('ASSO', 1))).toBe('CLOSED');
  });

  it('refuses to create over an existing database and reports missing or corrupt ones', () => {
    BlockDatabase.create(dir, { dbid: 1, geometry }).close();
    expect(code(() => BlockDatabase.create(dir, { dbid: 1, geometry }))).toBe('ALREADY_EXISTS');
    expect(code(() => BlockDatabase.open(path.join(dir, 'nope')))).toBe('NOT_FOUND');
    fs.truncateSync(path.join(dir, 'DATA'), 100);
    expect(code(() => BlockDatabase.open(dir))).toBe('CORRUPT_HEADER');
    fs.writeFileSync(path.join(dir, 'header.json'), '{"format":');
    expect(code(() => BlockDatabase.open(dir))).toBe('CORRUPT_HEADER');
    expect(code(() => BlockDatabase.create(path.join(dir, 'x'), { dbid: 0, geometry }))).toBe('VALIDATION');
  });

  it('validates geometry: overlaps, admin region, file numbers, block sizes', () => {
    const f = (files: any[], extra: Partial<Geometry> = {}) => () => validateGeometry({ ...geometry, ...extra, files });
    expect(code(f([{ file: 1, extents: [{ part: 'DATA', from: 1, to: 5 }] }, { file: 2, extents: [{ part: 'DATA', from: 5, to: 6 }] }]))).toBe('VALIDATION');
    expect(code(f([{ file: 1, extents: [{ part: 'AC', from: 8, to: 9 }] }]))).toBe('VALIDATION'); // admin is 1..8
    expect(code(f([{ file: 4, extents: [] }]))).toBe('VALIDATION');
    expect(code(f([{ file: 1, extents: [] }, { file: 1, extents: [] }]))).toBe('VALIDATION');
    expect(code(f([{ file: 1, extents: [{ part: 'DATA', from: 3, to: 2 }] }]))).toBe('VALIDATION');
    expect(code(f([{ file: 1, extents: [{ part: 'DATA', from: 1, to: 51 }] }]))).toBe('VALIDATION');
    expect(code(f([], { asso: { blockSize: 1000, blocks: 40 } }))).toBe('VALIDATION');
    expect(code(f([], { asso: { blockSize: 1024, blocks: 7 } }))).toBe('VALIDATION');
  });

  it('iterates used blocks: admin blocks then file extents, in (area, RABN) order', () => {
    const db = BlockDatabase.create(dir, { dbid: 1, geometry });
    const got = [...db.usedBlocks(3 * 2048)].map((b) => `${b.area}:${b.rabn}`);
    const asso = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20].map((r) => `ASSO:${r}`);
    const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22, 23, 24, 25].map((r) => `DATA:${r}`);
    expect(got).toEqual([...asso, ...data]);
    expect(usedRanges(db.geometry)).toEqual([
      { area: 'ASSO', from: 1, to: 12 },
      { area: 'ASSO', from: 20, to: 20 },
      { area: 'DATA', from: 1, to: 10 },
      { area: 'DATA', from: 21, to: 25 },
    ]);
    db.close();
  });

  it('file ranges hold the FCB, FDT and extents of the chosen files only', () => {
    const g = validateGeometry(geometry);
    const r = fileRanges(g, [3]);
    expect(r).toEqual([
      { area: 'ASSO', from: 7, to: 8 }, // FCB and FDT of file 3
      { area: 'ASSO', from: 20, to: 20 },
      { area: 'DATA', from: 21, to: 25 },
    ]);
    expect(rangesContain(r, 'ASSO', 8)).toBe(true);
    expect(rangesContain(r, 'ASSO', 1)).toBe(false);
    expect(rangesContain(r, 'DATA', 20)).toBe(false);
    expect(rangesContain(r, 'DATA', 25)).toBe(true);
    expect(code(() => fileRanges(g, [2]))).toBe('VALIDATION');
  });

  it('digest depends on used contents only, not on write order', () => {
    const a = BlockDatabase.create(path.join(dir, 'a'), { dbid: 1, geometry });
    const b = BlockDatabase.create(path.join(dir, 'b'), { dbid: 1, geometry });
    a.writeBlock('DATA', 2, img(2048, 1));
    a.writeBlock('ASSO', 3, img(1024, 2));
    b.writeBlock('ASSO', 3, img(1024, 2));
    b.writeBlock('DATA', 2, img(2048, 1));
    expect(a.digest()).toBe(b.digest());
    b.writeBlock('DATA', 30, img(2048, 5)); // free space: not part of the contents
    expect(a.digest()).toBe(b.digest());
    b.writeBlock('DATA', 22, img(2048, 5));
    expect(a.digest()).not.toBe(b.digest());
    a.close();
    b.close();
  });

  it('a concurrent reader sees whole blocks, each as of the moment it was read (possibly newer than when it started)', () => {
    const writer = BlockDatabase.create(dir, { dbid: 7, geometry });
    for (let r = 1; r <= 10; r++) writer.writeBlock('DATA', r, img(2048, r));
    const reader = BlockDatabase.open(dir, { readOnly: true });
    // A one-block chunk: the iterator reads each block only when it gets there.
    const it = reader.blocksIn({ area: 'DATA', from: 1, to: 10 }, 2048);
    const seen: number[] = [];
    let step = it.next();
    while (!step.done) {
      const b = step.value;
      // Every image is one whole image the writer wrote, never a mix.
      expect(new Set(b.image).size).toBe(1);
      seen.push(b.image[0]);
      // The writer changes a block the reader has passed and one it has not reached yet.
      if (b.rabn === 3) {
        writer.writeBlock('DATA', 2, img(2048, 200));
        writer.writeBlock('DATA', 7, img(2048, 201));
      }
      step = it.next();
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 201, 8, 9, 10]); // block 7 newer than the start, block 2 not re-read
    expect(reader.readBlock('DATA', 2)[0]).toBe(200);
    reader.close();
    writer.close();
  });

  it('setGeometry records moved file extents in the header, refusing other area shapes', () => {
    const db = BlockDatabase.create(dir, { dbid: 7, geometry });
    const moved = { ...geometry, files: [geometry.files[0], { file: 3, extents: [{ part: 'DATA' as const, from: 30, to: 34 }, { part: 'INDEX' as const, from: 20, to: 20 }] }] };
    db.setGeometry(moved);
    expect(rangesContain(db.usedRanges, 'DATA', 32)).toBe(true);
    expect(rangesContain(db.usedRanges, 'DATA', 22)).toBe(false);
    expect(code(() => db.setGeometry({ ...moved, data: { blockSize: 2048, blocks: 60 } }))).toBe('VALIDATION');
    db.close();
    expect(BlockDatabase.open(dir, { readOnly: true }).geometry.files[1].extents).toEqual(validateGeometry(moved).files[1].extents);
  });
});

describe('digestAsync', () => {
  it('equals the digest, for the header geometry or another one of the same areas', async () => {
    const db = BlockDatabase.create(dir, { dbid: 1, geometry });
    for (const r of db.usedRanges) for (let b = r.from; b <= r.to; b++) db.writeBlock(r.area, b, img(db.blockSize(r.area), b * 7));
    expect(await db.digestAsync()).toBe(db.digest());
    const moved = { ...geometry, files: [geometry.files[0], { file: 3, extents: [{ part: 'DATA' as const, from: 30, to: 44 }] }] };
    expect(await db.digestAsync(moved)).toBe(db.digest(moved));
    expect(db.digest(moved)).not.toBe(db.digest());
    db.close();
    await expect(db.digestAsync()).rejects.toThrow(/closed/);
  });
});
