import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { BlockDatabase } from '@deltaflow/blockdb';
import { blocksToSave } from '@deltaflow/dlog';
import { areaBlocksOf, validateGeometry, type Geometry } from '@deltaflow/blocks';
import {
  SaveFormatError,
  SaveHeader,
  DataSetReader,
  DataSetWriter,
  describeDataSet,
  partialPath,
  readSaveHeader,
  writeSaveFromDatabase,
} from './index';

const geometry: Geometry = {
  asso: { blockSize: 512, blocks: 64 },
  data: { blockSize: 1024, blocks: 64 },
  maxFiles: 2,
  files: [{ file: 1, extents: [{ part: 'DATA', from: 1, to: 32 }, { part: 'AC', from: 7, to: 10 }] }],
};
const header: SaveHeader = {
  dbid: 12,
  dsid: { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1_700_000_000_000, lineage: 'L1' },
  kind: 'full',
  online: false,
  startLsn: 100,
  endLsn: 100,
  geometry,
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'save-format-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Rec {
  area: 'ASSO' | 'DATA';
  rabn: number;
  image: Buffer;
}
const image = (area: 'ASSO' | 'DATA', rabn: number, salt = 0) =>
  Buffer.alloc(area === 'ASSO' ? 512 : 1024, `${area}${rabn}/${salt};`);

async function writeSet(file: string, recs: Rec[], h: SaveHeader = header) {
  const w = await DataSetWriter.create(file, h, { chunkBytes: 3000, fsync: false });
  for (const r of recs) await w.writeBlock(r.area, r.rabn, r.image);
  return w.finish();
}

async function readAll(file: string, chunkBytes?: number, seen?: Rec[]) {
  const r = await DataSetReader.open(file, { chunkBytes });
  const out = seen ?? [];
  for await (const x of r) out.push({ area: x.area, rabn: x.rabn, image: Buffer.from(x.image) });
  return { recs: out, trailer: r.trailer };
}

async function codeOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof SaveFormatError)) throw e;
    return e.code;
  }
  throw new Error('expected a SaveFormatError');
}

const sample: Rec[] = [
  { area: 'ASSO', rabn: 1, image: image('ASSO', 1) },
  { area: 'ASSO', rabn: 5, image: image('ASSO', 5) },
  { area: 'DATA', rabn: 1, image: image('DATA', 1) },
  { area: 'DATA', rabn: 64, image: image('DATA', 64) },
];

describe('save data set writer and reader', () => {
  it('round-trips header, records and trailer', async () => {
    const file = path.join(dir, 'a.sav');
    const written = await writeSet(file, sample);
    expect(written.assoRecords).toBe(2);
    expect(written.dataRecords).toBe(2);
    expect(fs.statSync(file).size).toBe(written.bytes);
    expect(await readSaveHeader(file)).toEqual({ ...header, geometry: validateGeometry(geometry) });
    const got = await readAll(file);
    expect(got.recs).toEqual(sample);
    expect(got.trailer?.digest).toBe(written.digest);
    expect(await describeDataSet(file)).toEqual({ name: file, dbid: 12, kind: 'full', dsid: header.dsid, online: false });
  });

  it('writes the same bytes to an append-only sink as to a file, reusing no chunk the sink still holds; a sink refuses a header that changes later', async () => {
    const file = path.join(dir, 'file.sav');
    const written = await writeSet(file, sample);
    const chunks: Buffer[] = [];
    let finished = 0;
    const sink = {
      write: async (c: Uint8Array) => void chunks.push(Buffer.from(c)),
      finish: async () => ++finished,
      abort: async () => undefined,
    };
    const w = await DataSetWriter.create({ sink, name: 'to-sink' }, header, { chunkBytes: 3000 });
    for (const r of sample) await w.writeBlock(r.area, r.rabn, r.image);
    const out = await w.finish();
    expect(Buffer.concat(chunks).equals(fs.readFileSync(file))).toBe(true);
    expect(out).toMatchObject({ path: 'to-sink', bytes: written.bytes, digest: written.digest, sinkResult: 1 });
    expect(chunks.length).toBeGreaterThan(1);
    expect(await codeOf(DataSetWriter.create({ sink, name: 'later' }, header, { endLsnLater: true }))).toBe('VALIDATION');
    const w2 = await DataSetWriter.create({ sink, name: 'fixed' }, header);
    expect(() => w2.setEndLsn(200)).toThrow(/append-only sink/);
  });

  it('an aborted or failed data set aborts its sink with the reason, and nothing is finished', async () => {
    const aborted: string[] = [];
    const sink = { write: async () => undefined, finish: async () => 'done', abort: async (reason: string) => void aborted.push(reason) };
    const w = await DataSetWriter.create({ sink, name: 'gone' }, header, { chunkBytes: 3000 });
    await w.writeBlock('ASSO', 1, image('ASSO', 1));
    await w.abort('the save was stopped');
    const failing = { ...sink, write: async () => Promise.reject(new Error('the stream refused it')) };
    const w2 = await DataSetWriter.create({ sink: failing, name: 'refused' }, header, { chunkBytes: 3000 });
    await expect(w2.finish()).rejects.toThrow('the stream refused it');
    expect(aborted).toEqual(['the save was stopped', 'the stream refused it']);
  });

  it('records an end LSN known only at the end (online save): the header is rewritten in place and verifies', async () => {
    const online: SaveHeader = { ...header, online: true, startLsn: 999, endLsn: 999 };
    const file = path.join(dir, 'online.sav');
    const w = await DataSetWriter.create(file, online, { chunkBytes: 3000, fsync: false, endLsnLater: true });
    for (const r of sample) await w.writeBlock(r.area, r.rabn, r.image);
    expect(() => w.setEndLsn(998)).toThrow(expect.objectContaining({ code: 'VALIDATION' })); // below the start
    w.setEndLsn(123_456_789_012);
    const written = await w.finish();
    expect(written.header.endLsn).toBe(123_456_789_012);
    expect(await readSaveHeader(file)).toMatchObject({ startLsn: 999, endLsn: 123_456_789_012 });
    expect((await readAll(file)).recs).toEqual(sample);

    // without the reserved room a longer header does not fit: refused when asked, nothing written
    const tight = await DataSetWriter.create(path.join(dir, 'tight.sav'), { ...online, startLsn: 100, endLsn: 100 }, { fsync: false });
    expect(() => tight.setEndLsn(123_456_789_012)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    tight.setEndLsn(555); // as many digits: fits
    await tight.finish();
    expect(await readSaveHeader(path.join(dir, 'tight.sav'))).toMatchObject({ startLsn: 100, endLsn: 555 });
  });

  it('rejects out-of-order, duplicate, mis-sized and out-of-range records without changing the output', async () => {
    const file = path.join(dir, 'b.sav');
    const w = await DataSetWriter.create(file, header, { fsync: false });
    await w.writeBlock('DATA', 3, image('DATA', 3));
    expect(await codeOf(w.writeBlock('DATA', 3, image('DATA', 3)))).toBe('DUPLICATE_RECORD');
    expect(await codeOf(w.writeBlock('DATA', 2, image('DATA', 2)))).toBe('OUT_OF_ORDER');
    expect(await codeOf(w.writeBlock('ASSO', 9, image('ASSO', 9)))).toBe('OUT_OF_ORDER');
    expect(await codeOf(w.writeBlock('DATA', 4, image('ASSO', 4)))).toBe('IMAGE_LENGTH');
    expect(await codeOf(w.writeBlock('DATA', 65, image('DATA', 65)))).toBe('VALIDATION');
    expect(await codeOf(w.writeBlock('XX' as any, 65, image('DATA', 65)))).toBe('VALIDATION');
    await w.writeBlock('DATA', 4, image('DATA', 4));
    expect(fs.existsSync(file)).toBe(false); // only the partial name exists while writing
    expect(fs.existsSync(partialPath(file))).toBe(true);
    await w.finish();
    expect((await readAll(file)).recs.map((r) => r.rabn)).toEqual([3, 4]);
    expect(await codeOf(w.writeBlock('DATA', 5, image('DATA', 5)))).toBe('ILLEGAL_STATE');
    expect(await codeOf(DataSetWriter.create(file, header))).toBe('ALREADY_EXISTS');
  });

  it('abort leaves no file behind; bad headers are refused', async () => {
    const file = path.join(dir, 'c.sav');
    const w = await DataSetWriter.create(file, header, { fsync: false });
    await w.writeBlock('ASSO', 1, image('ASSO', 1));
    await w.abort();
    expect(fs.readdirSync(dir)).toEqual([]);
    const bad = (h: any) => codeOf(DataSetWriter.create(path.join(dir, 'd.sav'), h));
    expect(await bad({ ...header, kind: 'weekly' })).toBe('VALIDATION');
    expect(await bad({ ...header, startLsn: 5, endLsn: 4 })).toBe('VALIDATION');
    expect(await bad({ ...header, dsid: { ...header.dsid, lineage: '' } })).toBe('VALIDATION');
    expect(await bad({ ...header, dbid: 70000 })).toBe('VALIDATION');
    expect(await bad({ ...header, geometry: { ...geometry, maxFiles: 0 } })).toBe('VALIDATION');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('reports a missing trailer as TRUNCATED and trailing garbage as CORRUPT_DATA', async () => {
    const file = path.join(dir, 'e.sav');
    await writeSet(file, sample);
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([full, Buffer.from([0])]));
    expect(await codeOf(readAll(file))).toBe('CORRUPT_DATA');
    fs.writeFileSync(file, full.subarray(0, full.length - 64));
    expect(await codeOf(readAll(file))).toBe('TRUNCATED');
    fs.writeFileSync(file, Buffer.from('hello world, not a data set'));
    expect(await codeOf(readSaveHeader(file))).toBe('NOT_A_DATA_SET');
  });

  it('writes full and delta saves straight from a block database', async () => {
    const db = BlockDatabase.create(path.join(dir, 'db'), { dbid: 12, geometry });
    db.writeBlock('DATA', 2, image('DATA', 2));
    const full = await writeSaveFromDatabase(db, path.join(dir, 'full.sav'), { ...header }, undefined, { fsync: false });
    expect(full.assoRecords).toBe(10); // admin 1..6 + AC 7..10
    expect(full.dataRecords).toBe(32);
    const delta = await writeSaveFromDatabase(
      db,
      path.join(dir, 'delta.sav'),
      { ...header, kind: 'delta', dsid: { ...header.dsid, deltaFrom: 1, deltaTo: 1 } },
      blocksToSave({ blocks: areaBlocksOf([{ area: 'DATA', from: 2, to: 2 }, { area: 'ASSO', from: 8, to: 8 }, { area: 'DATA', from: 2, to: 2 }]), marks: [] }, db.geometry),
      { fsync: false },
    );
    const recs = (await readAll(delta.path)).recs;
    expect(recs.map((r) => `${r.area}:${r.rabn}`)).toEqual(['ASSO:1', 'ASSO:2', 'ASSO:3', 'ASSO:4', 'ASSO:5', 'ASSO:6', 'ASSO:8', 'DATA:2']);
    expect(recs[7].image).toEqual(image('DATA', 2));
    await expect(writeSaveFromDatabase(db, path.join(dir, 'x.sav'), header, [{ area: 'DATA', from: 99, to: 99 }])).rejects.toMatchObject({ code: 'RABN_OUT_OF_RANGE' });
    db.close();
  });
});

describe('corruption detection (property)', () => {
  const recsArb = fc
    .uniqueArray(fc.tuple(fc.constantFrom<'ASSO' | 'DATA'>('ASSO', 'DATA'), fc.integer({ min: 1, max: 64 })), {
      minLength: 0,
      maxLength: 8,
      selector: ([a, r]) => `${a}${r}`,
    })
    .map((keys) =>
      keys
        .sort((x, y) => (x[0] === y[0] ? x[1] - y[1] : x[0] === 'ASSO' ? -1 : 1))
        .map(([area, rabn]) => ({ area, rabn, image: image(area, rabn, 7) })),
    );

  it('a flipped byte anywhere is detected and no bad record is yielded', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(recsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), async (recs, at, xor) => {
        const file = path.join(dir, `f${n++}.sav`);
        await writeSet(file, recs);
        const bytes = fs.readFileSync(file);
        const pos = at % bytes.length;
        bytes[pos] ^= xor;
        fs.writeFileSync(file, bytes);
        const seen: Rec[] = [];
        const code = await codeOf(readAll(file, 1, seen));
        expect(['CORRUPT_DATA', 'TRUNCATED', 'NOT_A_DATA_SET', 'UNSUPPORTED_VERSION']).toContain(code);
        expect(seen).toEqual(recs.slice(0, seen.length));
      }),
      { numRuns: 150 },
    );
  });

  it('a truncation anywhere is detected', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(recsArb, fc.nat(), async (recs, at) => {
        const file = path.join(dir, `t${n++}.sav`);
        await writeSet(file, recs);
        const bytes = fs.readFileSync(file);
        fs.writeFileSync(file, bytes.subarray(0, at % bytes.length));
        const seen: Rec[] = [];
        expect(await codeOf(readAll(file, 1, seen))).toBe('TRUNCATED');
        expect(seen).toEqual(recs.slice(0, seen.length));
      }),
      { numRuns: 150 },
    );
  });
});
