import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import {
  assessFile,
  catalogDigest,
  ClientFileSession,
  codecSpec,
  decodeHeader,
  encodeHeader,
  evolveCatalog,
  FileDevice,
  HEADER_LENGTH,
  initialCatalog,
  OpenRecord,
  readClientFile,
  restoreRuns,
  scanStreamFile,
  scanVolume,
  TapeAuthError,
  TapeCorruptError,
  TapeKeyError,
  TapeStateError,
  TapeValidationError,
  VolumeWriter,
} from './index';
import { collect, content, errorOf, sha256, writeStream } from './spec-support';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tape-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const MiB = 1 << 20;
const devices: FileDevice[] = [];
const device = (capacity = 64 * MiB) => {
  const d = new FileDevice({ dir, capacity });
  devices.push(d);
  return d;
};
afterEach(async () => {
  for (const d of devices.splice(0)) await d.unmount();
});
const key = Buffer.alloc(32, 7);

async function readBack(dev: FileDevice, w: { opens: Map<string, OpenRecord>; placements: any[] }, incarnation: string, keyring?: Buffer, withCatalogCrcs = true) {
  const open = w.opens.get(incarnation) as OpenRecord;
  const runs = w.placements.filter((p) => p.incarnation === incarnation).map(({ crcs, ...r }) => (withCatalogCrcs ? { ...r, crcs } : r));
  return collect(readClientFile(dev, open, runs, { keyring }));
}

describe('volume format v2 on a file device', () => {
  it('eight client files interleaved in runs on one volume read back byte-identical (mixed codecs)', async () => {
    const dev = device();
    const files = Array.from({ length: 8 }, (_, i) => ({
      name: `db7.save.${i}`,
      data: content(`f${i}`, 200_000 + i * 97_000),
      compression: (['none', 'zstd', 'gzip', 'brotli'] as const)[i % 4],
      operatorKey: i % 3 === 0 ? key : undefined,
    }));
    const w = await writeStream(dev, files, { k: 2 });
    expect(w.volumes).toEqual(['V1']);
    // really interleaved: consecutive runs alternate between files
    expect(new Set(w.placements.slice(0, 8).map((p) => p.incarnation)).size).toBe(8);
    for (const f of files) {
      const inc = w.byName.get(f.name) as string;
      expect((await readBack(dev, w, inc, key)).equals(f.data)).toBe(true);
    }
  });

  it('a client file spans two volumes; each volume describes itself', async () => {
    const dev = device(2 * MiB);
    const big = content('big', 3 * MiB);
    const w = await writeStream(dev, [{ name: 'big.full', data: big }, { name: 'small', data: content('s', 100_000) }], { k: 3 });
    expect(w.volumes.length).toBeGreaterThanOrEqual(2);
    const inc = w.byName.get('big.full') as string;
    expect(new Set(w.placements.filter((p) => p.incarnation === inc).map((p) => p.volser)).size).toBeGreaterThanOrEqual(2);
    expect((await readBack(dev, w, inc)).equals(big)).toBe(true);
    // the second volume alone names the file (continuation open record) and points back
    const v2 = await scanVolume(dev, 'V2');
    expect(v2.opens.find((o) => o.record.incarnation === inc)?.continuation).toBe(true);
    expect(v2.label?.previousVolser).toBe('V1');
    expect((await scanVolume(dev, 'V1')).nextVolser).toBe('V2');
  });

  it('refuses bad names, a second volume of the same volser, and appends after finish', async () => {
    const dev = device();
    await expect(VolumeWriter.label(dev, { volser: '../X', stream: 'S', streamFile: 'F', sequence: 1, createdAt: 1, tag: '0011223344556677' })).rejects.toThrow(TapeValidationError);
    const w = await VolumeWriter.label(dev, { volser: 'A1', stream: 'S', streamFile: 'F', sequence: 1, createdAt: 1, tag: '0011223344556677' });
    await w.finish({ finishedAt: 2 });
    await expect(w.writeOpen({ incarnation: randomUUID(), clientFile: 'x', stream: 'S', openedAt: 1, codec: codecSpec({}) })).rejects.toThrow(TapeStateError);
    await dev.unmount();
    await expect(VolumeWriter.label(dev, { volser: 'A1', stream: 'S', streamFile: 'F', sequence: 1, createdAt: 1, tag: '0011223344556677' })).rejects.toThrow(TapeStateError);
  });
});

describe('SCANSTREAMFILE', () => {
  const files = () => [
    { name: 'db7.full.1', data: content('a', 1_500_000), compression: 'zstd' as const },
    { name: 'db7.delta.1', data: content('b', 700_000), operatorKey: key },
    { name: 'dsim.1', data: content('c', 5) },
  ];

  it('trailer scan equals full scan equals the fold of the published events', async () => {
    const dev = device(2 * MiB);
    const w = await writeStream(dev, files(), { k: 2, checkpointEvery: 1 << 19 });
    expect(w.volumes.length).toBeGreaterThan(1);
    const fast = await scanStreamFile(dev);
    const full = await scanStreamFile(dev, undefined, { mode: 'full' });
    expect(fast.volumes.every((v) => v.method === 'trailer')).toBe(true);
    expect(full.volumes.every((v) => v.method === 'full')).toBe(true);
    const live = initialCatalog();
    for (const e of w.events) evolveCatalog(live, e);
    expect(fast.digest).toBe(full.digest);
    expect(fast.digest).toBe(catalogDigest(live));
    // folding the events twice changes nothing
    for (const e of w.events) evolveCatalog(live, e);
    expect(catalogDigest(live)).toBe(fast.digest);
    expect(fast.damage).toEqual([]);
    expect(fast.missingVolumes).toEqual({});
    for (const { file, assessment } of fast.files) {
      expect(assessment.status).toBe('complete');
      expect(file.open?.dsid).toMatchObject({ lineage: 'L1' });
      expect(file.close?.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const read = fast.volumes.reduce((n, v) => n + v.read, 0);
    const all = full.volumes.reduce((n, v) => n + v.read, 0);
    expect(read).toBeLessThan(all / 10);
  });

  it('a flipped byte in the label loses nothing: every superblock recovered, label from the trailer', async () => {
    const dev = device();
    const fs_ = files();
    const w = await writeStream(dev, fs_, { k: 2 });
    const before = await scanStreamFile(dev);
    const file = dev.pathOf('V1');
    const bytes = fs.readFileSync(file);
    bytes[HEADER_LENGTH + 10] ^= 0x01; // inside the label body
    fs.writeFileSync(file, bytes);
    for (const mode of ['auto', 'full'] as const) {
      const after = await scanStreamFile(dev, undefined, { mode });
      expect(after.damage.map((d) => d.position)).toEqual([0]);
      expect(after.digest).toBe(before.digest);
      expect(after.files.every((f) => f.assessment.complete)).toBe(true);
    }
    // the reader takes the label's copy too
    for (const f of fs_) expect((await readBack(dev, w, w.byName.get(f.name) as string, key)).equals(f.data)).toBe(true);
  });

  it('a flipped label byte on a torn volume without trailer or checkpoint: the tag comes from the majority of headers', async () => {
    const dev = device();
    const w = await writeStream(dev, files(), { k: 2, finish: false });
    const file = dev.pathOf('V1');
    const bytes = fs.readFileSync(file);
    bytes[20] ^= 0xff; // inside the label header
    fs.writeFileSync(file, bytes);
    const s = await scanVolume(dev, 'V1');
    expect(s.method).toBe('full');
    expect(s.label).toBeNull();
    expect(s.tag).toBe(w.writer.label.tag);
    expect(s.runs).toEqual(w.placements.map(({ volser: _v, ...r }) => r));
    expect(s.damage).toHaveLength(1);
    expect(s.damage[0]).toMatchObject({ position: 0, kind: 'corrupt' });
  });

  it('a reused client file name never mixes old and new data', async () => {
    const dev = device();
    const oldData = content('old', 900_000);
    const newData = content('new', 900_000);
    const a = await writeStream(dev, [{ name: 'db7.full', data: oldData }], { prefix: 'A', k: 1 });
    const b = await writeStream(dev, [{ name: 'db7.full', data: newData }], { prefix: 'B', k: 1 });
    const incNew = b.byName.get('db7.full') as string;
    // damage one superblock of the new file
    const victim = b.placements.find((p) => p.incarnation === incNew && p.firstSeq === 1)!;
    const bytes = fs.readFileSync(dev.pathOf('B1'));
    bytes[victim.position + HEADER_LENGTH + 100] ^= 0x40;
    fs.writeFileSync(dev.pathOf('B1'), bytes);
    const scan = await scanStreamFile(dev, undefined, { mode: 'full' });
    expect(scan.files).toHaveLength(2);
    const n = scan.catalog.files.get(incNew)!;
    const o = scan.catalog.files.get(a.byName.get('db7.full') as string)!;
    expect(assessFile(o).complete).toBe(true);
    expect(assessFile(n)).toMatchObject({ complete: false, status: 'incomplete', missing: [1] });
    expect(() => restoreRuns(n)).toThrow(/superblock 1/);
    // the old copy's run cannot stand in for the new one's
    const oldRun = o.runs.values().next().value!;
    const forged = [...n.runs.values()].concat([{ ...oldRun, firstSeq: 1, count: 1 }]);
    const e = await errorOf(collect(readClientFile(dev, n.open!, forged.filter((r) => r.firstSeq !== 1 || r.volser === 'A1'))));
    expect(e).toBeInstanceOf(TapeValidationError);
    expect((await collect(readClientFile(dev, o.open!, restoreRuns(o), { close: o.close! }))).equals(oldData)).toBe(true);
  });

  it('two copies of one superblock with different contents are a conflict, not a file', async () => {
    const dev = device();
    const open: OpenRecord = { incarnation: randomUUID(), clientFile: 'c', stream: 'NIGHTLY', openedAt: 1, codec: codecSpec({}) };
    const w = await VolumeWriter.label(dev, { volser: 'C1', stream: 'NIGHTLY', streamFile: 'SF', sequence: 1, createdAt: 1, tag: randomBytes(8).toString('hex') });
    const s = ClientFileSession.start(open);
    const sb = async (sess: ClientFileSession, seq: number, last: boolean, fill: number) => {
      const payload = Buffer.alloc(1000, fill);
      return sess.encode({ seq, last, payload, crc: crc32c(payload) });
    };
    await w.appendRun(open, [await sb(s, 0, false, 1), await sb(s, 1, false, 2), await sb(s, 2, true, 3)]);
    // a second writer of the same incarnation (a bug) resends 1..2 with other bytes
    const s2 = ClientFileSession.resume(open, { nextSeq: 1, bytes: 1000 });
    await w.appendRun(open, [await sb(s2, 1, false, 9), await sb(s2, 2, true, 3)]);
    await w.writeClose(open, { incarnation: open.incarnation, superblocks: 3, bytes: 3000, sha256: sha256(Buffer.alloc(1)), closedAt: 2 });
    await w.finish({ finishedAt: 3 });
    const scan = await scanStreamFile(dev);
    const a = scan.files[0].assessment;
    expect(a.status).toBe('conflict');
    expect(a.complete).toBe(false);
    expect(a.conflicts.map((c) => c.seq)).toEqual([1]);
    expect(a.conflicts[0].runs).toHaveLength(2);
  });

  it('a torn volume is scanned from its last checkpoint, then appended to and finished', async () => {
    const dev = device(256 * MiB);
    const fs_ = [
      { name: 'one', data: content('1', 8 * MiB) },
      { name: 'two', data: content('2', 6 * MiB) },
    ];
    const w = await writeStream(dev, fs_, { k: 4, checkpointEvery: MiB / 2, finish: false });
    const file = dev.pathOf('V1');
    const lastRun = w.placements[w.placements.length - 1];
    fs.truncateSync(file, lastRun.position + 5000); // torn inside the last run
    const fast = await scanVolume(dev, 'V1');
    const full = await scanVolume(dev, 'V1', { mode: 'full' });
    expect(fast.method).toBe('checkpoint');
    expect(fast.checkpoints).toBeGreaterThan(5);
    expect(fast.runs).toEqual(full.runs);
    expect(fast.opens).toEqual(full.opens);
    expect(fast.closes).toEqual(full.closes);
    expect(fast.validEnd).toBe(full.validEnd);
    expect(fast.damage).toEqual(full.damage);
    expect(fast.damage[0]).toMatchObject({ kind: 'truncated', resumedAt: null });
    // read only from the last checkpoint on (plus the checkpoint chain), not the whole volume
    expect(fast.read).toBeLessThan(full.read / 3);
    expect(full.runs.length).toBe(w.placements.length - 1);

    const { writer, recovered } = await VolumeWriter.resume(dev, 'V1', { checkpointEveryBytes: MiB });
    expect(recovered.validEnd).toBe(full.validEnd);
    const open: OpenRecord = { incarnation: randomUUID(), clientFile: 'after', stream: 'NIGHTLY', openedAt: 5, codec: codecSpec({}) };
    const s = ClientFileSession.start(open);
    const payload = content('after', 1000);
    const { placement } = await writer.appendRun(open, [await s.encode({ seq: 0, last: true, payload, crc: crc32c(payload) })]);
    expect(placement?.position).toBe(full.validEnd + HEADER_LENGTH + Buffer.byteLength(JSON.stringify(open)));
    await writer.finish({ finishedAt: 9 });
    await dev.unmount();
    const again = await scanVolume(dev, 'V1');
    const againFull = await scanVolume(dev, 'V1', { mode: 'full' });
    expect(again.method).toBe('trailer');
    expect(again.runs).toEqual(againFull.runs);
    expect(again.runs).toHaveLength(full.runs.length + 1);
    expect(await collect(readClientFile(dev, open, [placement!]))).toEqual(payload);
  });

  it('a damaged superblock is reported with volser and position; the scan resumes at the next record', async () => {
    const dev = device();
    const w = await writeStream(dev, files(), { k: 1, sbSize: 100_000 });
    const victim = w.placements[3];
    const bytes = fs.readFileSync(dev.pathOf('V1'));
    bytes[victim.position + HEADER_LENGTH + 5] ^= 0xff;
    fs.writeFileSync(dev.pathOf('V1'), bytes);
    const scan = await scanStreamFile(dev, undefined, { mode: 'full' });
    expect(scan.damage).toEqual([expect.objectContaining({ volser: 'V1', position: victim.position, kind: 'corrupt', resumedAt: victim.position + victim.extent })]);
    const e = await errorOf(readBack(dev, w, victim.incarnation, key));
    expect(e).toBeInstanceOf(TapeCorruptError);
    expect(e.position).toMatchObject({ volser: 'V1', offset: victim.position });
  });
});

describe('per-superblock codec', () => {
  it('zstd honours its level and round-trips; incompressible superblocks are stored as they are', async () => {
    const { dbBlocks } = await import('./spec-support');
    const page = dbBlocks(256 << 10, 5);
    const sizes: number[] = [];
    for (const level of [1, 19]) {
      const open: OpenRecord = { incarnation: randomUUID(), clientFile: 'z', stream: 'S', openedAt: 1, codec: codecSpec({ compression: 'zstd', level }) };
      const s = ClientFileSession.start(open);
      const e = await s.encode({ seq: 0, last: true, payload: page, crc: crc32c(page) });
      sizes.push(e.body.length);
      const h = { kind: 'S' as const, flags: e.flags, tag: '0'.repeat(16), position: 0, bodyLength: e.body.length, bodyCrc: e.bodyCrc, incarnation: open.incarnation, seq: 0, rawLength: e.rawLength, contentCrc: e.contentCrc };
      expect((await s.codec.decode(h, e.body)).equals(page)).toBe(true);
    }
    expect(sizes[1]).toBeLessThan(sizes[0]);
    const noise = randomBytes(1000);
    const open: OpenRecord = { incarnation: randomUUID(), clientFile: 'n', stream: 'S', openedAt: 1, codec: codecSpec({ compression: 'zstd' }) };
    const e = await ClientFileSession.start(open).encode({ seq: 0, last: true, payload: noise, crc: crc32c(noise) });
    expect(e.body).toEqual(noise);
    expect(e.bodyCrc).toBe(crc32c(noise));
  });
});

describe('per-superblock encryption', () => {
  it('a moved or foreign superblock fails authentication, even with valid CRCs', async () => {
    const dev = device();
    const w = await writeStream(dev, [{ name: 'a', data: content('a', 600_000), operatorKey: key }, { name: 'b', data: content('b', 600_000), operatorKey: key }], { k: 1 });
    const [ia, ib] = ['a', 'b'].map((n) => w.byName.get(n) as string);
    const pa = w.placements.filter((p) => p.incarnation === ia);
    const pb = w.placements.filter((p) => p.incarnation === ib);
    const file = dev.pathOf('V1');
    const pristine = fs.readFileSync(file);
    /** Rewrites the record at `at` with `body` and a forged header of `seq` whose CRCs are all valid. */
    const forge = (bytes: Buffer, at: number, body: Buffer, seq: number) => {
      const d = decodeHeader(bytes, at);
      if (!d.ok) throw new Error('no header');
      const c = crc32c(body);
      encodeHeader({ ...d.header, seq, bodyLength: body.length, bodyCrc: c, contentCrc: c }).copy(bytes, at);
      body.copy(bytes, at + HEADER_LENGTH);
    };
    const bodyOf = (p: { position: number; extent: number }) => pristine.subarray(p.position + HEADER_LENGTH, p.position + p.extent);
    // moved: superblock 0 of a placed where superblock 1 of a lies (same length)
    const moved = Buffer.from(pristine);
    forge(moved, pa[1].position, bodyOf(pa[0]), 1);
    fs.writeFileSync(file, moved);
    // the catalog's CRCs already catch it; without them (a catalog rebuilt from this volume) GCM does
    expect(await errorOf(readBack(dev, w, ia, key))).toBeInstanceOf(TapeCorruptError);
    expect(await errorOf(readBack(dev, w, ia, key, false))).toBeInstanceOf(TapeAuthError);
    // foreign: b's superblock 1 placed as a's superblock 1
    const foreign = Buffer.from(pristine);
    forge(foreign, pa[1].position, bodyOf(pb[1]), 1);
    fs.writeFileSync(file, foreign);
    const e = await errorOf(readBack(dev, w, ia, key, false));
    expect(e).toBeInstanceOf(TapeAuthError);
    expect(e.position).toMatchObject({ volser: 'V1', offset: pa[1].position });
    fs.writeFileSync(file, pristine);
    expect((await readBack(dev, w, ia, key)).equals(content('a', 600_000))).toBe(true);
  });

  it('a wrong operator key is refused with a clear error', async () => {
    const dev = device();
    const w = await writeStream(dev, [{ name: 'secret', data: content('s', 300_000), operatorKey: key, compression: 'zstd' }]);
    const inc = w.byName.get('secret') as string;
    const wrong = Buffer.alloc(32, 8);
    const e = await errorOf(readBack(dev, w, inc, wrong));
    expect(e).toBeInstanceOf(TapeKeyError);
    expect(e.code).toBe('KEY_REFUSED');
    expect(e.message).toMatch(/encrypted with operator key [0-9a-f]{16}; the key given is [0-9a-f]{16}/);
    expect((await errorOf(readBack(dev, w, inc))).message).toMatch(/no operator key was given/);
    // the stored bytes are not the plaintext
    expect(fs.readFileSync(dev.pathOf('V1')).includes(content('s', 300_000).subarray(1000, 1064))).toBe(false);
  });
});
