/*
 * Across the domain libraries: a full save and a delta of a block database are written as client
 * files onto shared tape volumes (interleaved 256 KiB superblocks), the catalog is rebuilt from the
 * volumes alone (SCANSTREAMFILE), both client files are read back, merged, and restored: the
 * result equals the source database.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { Geometry } from '@deltaflow/blocks';
import { mergeDataSets, restoreDelta } from '@deltaflow/merge';
import { writeSaveFromDatabase } from '@deltaflow/save-format';
import { deltaBlocks } from '@deltaflow/dlog';
import { randomBytes, randomUUID } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { ClientFileSession, codecSpec, FileDevice, MAX_SUPERBLOCK_PAYLOAD, readClientFile, restoreRuns, scanStreamFile, VolumeWriter } from '@deltaflow/tape';

const geometry: Geometry = {
  asso: { blockSize: 2048, blocks: 128 },
  data: { blockSize: 4096, blocks: 256 },
  maxFiles: 4,
  files: [{ file: 1, extents: [{ part: 'DATA', from: 1, to: 256 }, { part: 'INDEX', from: 20, to: 128 }] }],
};
const meta = (from: number, t: number) => ({
  dsid: { full: 1, deltaFrom: from, deltaTo: from, timestamp: 1_800_000_000_000 + t, lineage: 'TAPE' },
  online: false,
  startLsn: t,
  endLsn: t,
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'domain-tape-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it('saves survive a trip through interleaved tape volumes and a catalog-free scan', async () => {
  const db = BlockDatabase.create(path.join(dir, 'src'), { dbid: 3, geometry });
  for (const r of db.usedRanges)
    for (let b = r.from; b <= r.to; b++) db.writeBlock(r.area, b, Buffer.alloc(db.blockSize(r.area), `${r.area}${b};`));
  const full = path.join(dir, 'full.save');
  await writeSaveFromDatabase(db, full, { ...meta(0, 1), kind: 'full' }, undefined, { fsync: false });
  const changed = [5, 6, 99, 200].map((rabn) => ({ area: 'DATA' as const, rabn }));
  for (const c of changed) db.writeBlock('DATA', c.rabn, Buffer.alloc(4096, 0x5a));
  const delta = path.join(dir, 'delta.save');
  await writeSaveFromDatabase(db, delta, { ...meta(1, 2), kind: 'delta' }, deltaBlocks(db.geometry, changed), { fsync: false });
  const want = db.digest();
  db.close();

  // Stream both client files onto 400 KiB volumes, superblock by superblock, alternating.
  const tapes = path.join(dir, 'tapes');
  fs.mkdirSync(tapes);
  const dev = new FileDevice({ dir: tapes, capacity: 400 << 10 });
  const clients = [full, delta].map((f) => {
    const open = { incarnation: randomUUID(), clientFile: path.basename(f), stream: 'S1', openedAt: 1, codec: codecSpec({}) };
    return { data: fs.readFileSync(f), off: 0, seq: 0, s: ClientFileSession.start(open) };
  });
  let vol = 1;
  const label = (n: number) => ({ volser: `T${n}`, stream: 'S1', streamFile: 'SF', sequence: n, createdAt: 1, tag: randomBytes(8).toString('hex') });
  let w = await VolumeWriter.label(dev, label(vol));
  while (clients.some((c) => c.off < c.data.length)) {
    for (const c of clients) {
      if (c.off >= c.data.length) continue;
      const payload = c.data.subarray(c.off, c.off + MAX_SUPERBLOCK_PAYLOAD);
      const enc = await c.s.encode({ seq: c.seq++, last: c.off + payload.length >= c.data.length, payload, crc: crc32c(payload) });
      let { rest } = await w.appendRun(c.s.open, [enc]);
      if (rest.length) {
        await w.finish({ finishedAt: 2, nextVolser: `T${vol + 1}` });
        w = await VolumeWriter.label(dev, { ...label(++vol), previousVolser: `T${vol - 1}` });
        ({ rest } = await w.appendRun(c.s.open, rest));
        expect(rest).toEqual([]);
      }
      c.off += payload.length;
      if (c.off >= c.data.length) await w.writeClose(c.s.open, c.s.closeRecord({ closedAt: 3 }));
    }
  }
  await w.finish({ finishedAt: 4 });
  expect(vol).toBeGreaterThan(1);

  // Catalog lost: rebuild it from the volumes, read the client files back, merge and restore.
  const scan = await scanStreamFile(dev);
  expect(scan.damage).toEqual([]);
  const back = path.join(dir, 'back');
  fs.mkdirSync(back);
  for (const { file, assessment } of scan.files) {
    expect(assessment.complete).toBe(true);
    const parts: Buffer[] = [];
    for await (const b of readClientFile(dev, file.open!, restoreRuns(file), { close: file.close! })) parts.push(Buffer.from(b));
    fs.writeFileSync(path.join(back, file.open!.clientFile), Buffer.concat(parts));
  }
  await dev.unmount();
  const merged = path.join(dir, 'merged.save');
  const m = await mergeDataSets({ inputs: [path.join(back, 'delta.save'), path.join(back, 'full.save')], output: merged });
  expect(m.kind).toBe('full');
  await restoreDelta({ inputs: [merged], target: path.join(dir, 'restored') });
  const restored = BlockDatabase.open(path.join(dir, 'restored'), { readOnly: true });
  expect(restored.digest()).toBe(want);
  restored.close();
});
