import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileDevice, verifyVolume } from './index';
import { content, writeStream } from './spec-support';

describe('verifyVolume', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds a flipped byte and names the volume and position; a clean volume agrees with its trailer and the catalog', async () => {
    const dev = new FileDevice({ dir, capacity: 64 << 20 });
    const files = Array.from({ length: 3 }, (_, i) => ({ name: `v${i}`, data: content(`v${i}`, 700_000) }));
    const w = await writeStream(dev, files, { k: 2, checkpointEvery: 1 << 20 });
    const catalog = w.placements.map((p) => ({ incarnation: p.incarnation, firstSeq: p.firstSeq, count: p.count, position: p.position, extent: p.extent, crcs: p.crcs }));

    const clean = await verifyVolume(dev, 'V1', catalog);
    expect(clean.problems).toEqual([]);
    expect(clean).toMatchObject({ ok: true, index: 'trailer', records: { runs: w.placements.length } });

    // a catalog that places a run where the volume has none is caught too
    const wrong = await verifyVolume(dev, 'V1', [{ ...catalog[0], position: catalog[0].position + 1 }]);
    expect(wrong.problems.map((p) => p.kind)).toEqual(['catalog']);

    await dev.unmount();
    const victim = w.placements[4];
    const at = victim.position + 72 + 1000; // inside the first superblock's body
    const fd = fs.openSync(dev.pathOf('V1'), 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x01;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);

    const bad = await verifyVolume(dev, 'V1', catalog);
    expect(bad.ok).toBe(false);
    const damage = bad.problems.filter((p) => p.kind === 'damage');
    expect(damage).toHaveLength(1);
    expect(damage[0]).toMatchObject({ volser: 'V1', position: victim.position });
    expect(damage[0].message).toMatch(new RegExp(`corrupt record at V1@${victim.position}: body CRC32C`));
    // the catalog's run at that position is no longer intact on the volume
    expect(bad.problems.some((p) => p.kind === 'catalog' && p.position === victim.position)).toBe(true);
  });

  it('a volume still open for appending is verified up to its synced end: what a writer appends beyond it is not read, no trailer is missed', async () => {
    const dev = new FileDevice({ dir, capacity: 64 << 20 });
    const files = Array.from({ length: 2 }, (_, i) => ({ name: `m${i}`, data: content(`m${i}`, 600_000) }));
    const w = await writeStream(dev, files, { k: 2, finish: false });
    await w.writer.sync();
    const upTo = Math.max(...w.placements.map((p) => p.position + p.extent));
    const catalog = w.placements.map((p) => ({ incarnation: p.incarnation, firstSeq: p.firstSeq, count: p.count, position: p.position, extent: p.extent, crcs: p.crcs }));
    await dev.unmount();
    // a writer's unsynced tail beyond the synced end: half a record
    fs.appendFileSync(dev.pathOf('V1'), Buffer.alloc(5000, 7));
    const ro = new FileDevice({ dir, capacity: 64 << 20, readOnly: true });
    const ok = await verifyVolume(ro, 'V1', catalog, { upTo });
    expect(ok.problems).toEqual([]);
    expect(ok.records.runs).toBe(w.placements.length);
    // read whole, the same volume shows the torn tail and no trailer
    const whole = await verifyVolume(ro, 'V1', catalog);
    await ro.unmount();
    expect(whole.ok).toBe(false);
  });
});
