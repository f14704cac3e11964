import { createHash } from 'node:crypto';
import { RestorePass, RestoreRun, SuperblockCodec, TapeModelDevice, VirtualClock } from './index';
import { content, writeStream, Written } from './spec-support';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const lto = () => new TapeModelDevice({ capacity: 2 * 2 ** 30, rateBytesPerSec: 100e6, locateBaseSec: 4, locateBytesPerSec: 800e6, startStopSec: 2, loadSec: 10, clock: new VirtualClock() });

function runsOf(w: Written, name: string): RestoreRun[] {
  const inc = w.byName.get(name)!;
  return w.placements.filter((p) => p.incarnation === inc).map((p) => ({ volser: p.volser, position: p.position, extent: p.extent, incarnation: inc, firstSeq: p.firstSeq, count: p.count, crcs: p.crcs }));
}

function member(w: Written, name: string, got: Map<string, Buffer[]>, restore = name) {
  const inc = w.byName.get(name)!;
  got.set(restore, []);
  return { request: { restore, incarnation: inc, runs: runsOf(w, name) }, codec: SuperblockCodec.open(w.opens.get(inc)!), sink: (b: Buffer) => void got.get(restore)!.push(Buffer.from(b)) };
}

describe('a shared restore pass on the tape model', () => {
  it('eight restores of interleaved client files started together complete byte-identical in one pass', async () => {
    const dev = lto();
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `f${i}`, data: content(`p${i}`, 900_000 + i * 70_000) }));
    const w = await writeStream(dev, files, { k: 2 });
    const volumeBytes = dev.blocksOf('V1').reduce((n, b) => n + b.length, 0);
    const pass = new RestorePass(dev, { volumeOrder: w.volumes });
    const got = new Map<string, Buffer[]>();
    // the same client file twice (two merges reading one input) is served by the same reads
    for (const f of files) expect(pass.join(member(w, f.name, got))).toBe(true);
    expect(pass.join(member(w, 'f3', got, 'f3-again'))).toBe(true);
    const locates0 = dev.stats.locates;
    const read0 = dev.stats.bytesRead;
    const stats = await pass.run();
    expect(stats.failures.size).toBe(0);
    for (const f of files) expect(sha(Buffer.concat(got.get(f.name)!))).toBe(sha(f.data));
    expect(sha(Buffer.concat(got.get('f3-again')!))).toBe(sha(files[3].data));
    // one pass: no LOCATE, and no byte of the volume read twice
    expect(dev.stats.locates - locates0).toBe(0);
    expect(stats.repositions).toBe(0);
    expect(dev.stats.bytesRead - read0).toBeLessThanOrEqual(volumeBytes);
  });

  it('a restore started while the pass is under way joins when its runs lie ahead, and is refused (left for the next pass) when they lie behind', async () => {
    const dev = lto();
    const early = Array.from({ length: 4 }, (_, i) => ({ name: `a${i}`, data: content(`a${i}`, 600_000) }));
    const late = Array.from({ length: 2 }, (_, i) => ({ name: `b${i}`, data: content(`b${i}`, 500_000) }));
    const w1 = await writeStream(dev, early, { k: 2, prefix: 'V', firstVolume: 1 });
    const w2 = await writeStream(dev, late, { k: 2, prefix: 'V', firstVolume: 2 });
    const pass = new RestorePass(dev, { volumeOrder: ['V1', 'V2'] });
    const got = new Map<string, Buffer[]>();
    let outcome: { b0?: boolean; a0?: boolean } = {};
    const first = member(w1, 'a1', got);
    pass.join({
      ...first,
      sink: (b: Buffer, seq: number) => {
        first.sink(b);
        if (seq === 1) outcome = { b0: pass.join(member(w2, 'b0', got)), a0: pass.join(member(w1, 'a0', got)) };
      },
    });
    pass.join(member(w1, 'a3', got));
    const stats = await pass.run();
    expect(outcome).toEqual({ b0: true, a0: false });
    expect(stats.joined).toBe(1);
    expect(stats.failures.size).toBe(0);
    expect(sha(Buffer.concat(got.get('a1')!))).toBe(sha(early[1].data));
    expect(sha(Buffer.concat(got.get('a3')!))).toBe(sha(early[3].data));
    expect(sha(Buffer.concat(got.get('b0')!))).toBe(sha(late[0].data));
    expect(got.get('a0')).toEqual([]);
    expect(pass.join(member(w1, 'a2', got))).toBe(false); // the pass is over
  });

  it('a damaged run fails only the restore that needs it, named by volume and position; the others complete', async () => {
    const dev = lto();
    const files = Array.from({ length: 3 }, (_, i) => ({ name: `c${i}`, data: content(`c${i}`, 800_000) }));
    const w = await writeStream(dev, files, { k: 2 });
    const victim = runsOf(w, 'c1')[1];
    dev.blocksOf('V1')[victim.position + 1][200] ^= 0x40;
    const pass = new RestorePass(dev, { volumeOrder: w.volumes });
    const got = new Map<string, Buffer[]>();
    for (const f of files) pass.join(member(w, f.name, got));
    const stats = await pass.run();
    expect([...stats.failures.keys()]).toEqual(['c1']);
    expect(stats.failures.get('c1')!.message).toContain(`volser V1, offset ${victim.position + 1}`);
    expect(sha(Buffer.concat(got.get('c0')!))).toBe(sha(files[0].data));
    expect(sha(Buffer.concat(got.get('c2')!))).toBe(sha(files[2].data));
  });
});
