import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { executePlan, planRestores, restoreRuns, RestoreRequest, RestoreRun, scanStreamFile, SuperblockCodec, TapeModelDevice, TapeValidationError, VirtualClock } from './index';
import { content, writeStream } from './spec-support';

/** Runs of several client files laid out on volumes, as a multiplexer would (random sizes and gaps). */
const layout = fc
  .record({
    files: fc.integer({ min: 1, max: 6 }),
    runs: fc.array(fc.record({ file: fc.nat(5), count: fc.integer({ min: 1, max: 5 }), gap: fc.nat(3), size: fc.integer({ min: 1, max: 40 }), newVolume: fc.boolean() }), { minLength: 1, maxLength: 40 }),
    gap: fc.nat(50),
    wantShare: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    dup: fc.boolean(),
  })
  .map(({ files, runs, gap, wantShare, dup }) => {
    const next = new Array(files).fill(0);
    const placed: Array<RestoreRun & { file: number }> = [];
    let vol = 0;
    let pos = 1;
    for (const r of runs) {
      const file = r.file % files;
      if (r.newVolume && placed.length) {
        vol++;
        pos = 1;
      }
      pos += r.gap * 7;
      placed.push({ file, volser: `V${vol}`, position: pos, extent: r.size, incarnation: `inc-${file}`, firstSeq: next[file], count: r.count });
      next[file] += r.count;
      pos += r.size;
    }
    const requests: RestoreRequest[] = [];
    for (let f = 0; f < files; f++) {
      if (!wantShare[f] || next[f] === 0) continue;
      const mine = placed.filter((p) => p.file === f).map(({ file: _f, ...r }) => r);
      requests.push({ restore: `r${f}`, incarnation: `inc-${f}`, runs: mine });
      if (dup) requests.push({ restore: `r${f}b`, incarnation: `inc-${f}`, runs: mine });
    }
    return { requests, gap, volumes: Array.from({ length: vol + 1 }, (_, i) => `V${i}`) };
  });

describe('restore planner', () => {
  it('property: every requested superblock delivered exactly once, in order per restore; reads never overlap', () => {
    fc.assert(
      fc.property(layout, ({ requests, gap, volumes }) => {
        const plan = planRestores(requests, { readThroughGap: gap, volumeOrder: volumes });
        // reads: ordered by (volume, position) and disjoint
        for (let i = 1; i < plan.reads.length; i++) {
          const a = plan.reads[i - 1];
          const b = plan.reads[i];
          if (a.volser === b.volser) expect(b.position).toBeGreaterThan(a.position + a.extent + gap);
          else expect(volumes.indexOf(b.volser)).toBeGreaterThan(volumes.indexOf(a.volser));
        }
        // simulate the executor's delivery: order of superblocks along the plan
        const got = new Map<string, number[]>();
        for (const read of plan.reads)
          for (const run of read.runs) {
            expect(run.position).toBeGreaterThanOrEqual(read.position);
            expect(run.position + run.extent).toBeLessThanOrEqual(read.position + read.extent);
            for (const d of run.deliveries) for (let s = d.from; s <= d.to; s++) got.set(d.restore, [...(got.get(d.restore) ?? []), s]);
          }
        for (const r of requests) {
          const want = r.runs.reduce((n, x) => n + x.count, 0);
          // runs of one file are placed in sequence order here, so delivery is in order without holding back
          expect(got.get(r.restore)).toEqual(Array.from({ length: want }, (_, i) => i));
        }
        const wanted = new Set(requests.flatMap((r) => r.runs.map((x) => `${x.volser}@${x.position}`)));
        expect(plan.wanted).toBe([...wanted].reduce((n, k) => n + requests.flatMap((r) => r.runs).find((x) => `${x.volser}@${x.position}` === k)!.extent, 0));
      }),
      { numRuns: 300 },
    );
  });

  it('reads through short gaps, locates past long ones, joins adjacent runs', () => {
    const run = (position: number, firstSeq: number, incarnation = 'a') => ({ volser: 'V1', position, extent: 10, incarnation, firstSeq, count: 1 });
    const plan = planRestores(
      [
        { restore: 'x', incarnation: 'a', runs: [run(0, 0), run(10, 1), run(25, 2), run(200, 3)] },
        { restore: 'y', incarnation: 'b', runs: [run(40, 0, 'b')] },
      ],
      { readThroughGap: 20 },
    );
    expect(plan.reads.map((r) => [r.position, r.extent])).toEqual([
      [0, 50],
      [200, 10],
    ]);
    expect(plan.readThrough).toBe(5 + 5);
  });

  it('rejects requests that do not cover their client file, or runs that overlap', () => {
    const r = (position: number, firstSeq: number) => ({ volser: 'V1', position, extent: 10, incarnation: 'a', firstSeq, count: 2 });
    expect(() => planRestores([{ restore: 'x', incarnation: 'a', runs: [r(0, 0), r(50, 3)] }], { readThroughGap: 0 })).toThrow(TapeValidationError);
    expect(() => planRestores([{ restore: 'x', incarnation: 'a', runs: [r(0, 0), r(5, 2)] }], { readThroughGap: 0 })).toThrow(/overlap/);
  });
});

describe('tape model', () => {
  const lto = () =>
    new TapeModelDevice({ capacity: 2 * 2 ** 30, rateBytesPerSec: 100e6, locateBaseSec: 4, locateBytesPerSec: 800e6, startStopSec: 2, loadSec: 10, clock: new VirtualClock() });

  it('eight interleaved restores are served in about one pass over the volume', async () => {
    const dev = lto();
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `f${i}`, data: content(`t${i}`, 1_000_000 + i * 50_000) }));
    await writeStream(dev, files, { k: 2 });
    const scan = await scanStreamFile(dev);
    const codecs = new Map(scan.files.map(({ file }) => [file.incarnation, SuperblockCodec.open(file.open!)]));
    const requests = scan.files.map(({ file }) => ({ restore: file.open!.clientFile, incarnation: file.incarnation, runs: restoreRuns(file) }));
    const onePassBytes = dev.blocksOf('V1').reduce((n, b) => n + b.length, 0);
    const onePassSec = onePassBytes / 100e6;

    // all eight at once: one plan
    const got = new Map<string, Buffer[]>();
    const sinks = new Map(requests.map((r) => [r.restore, (b: Buffer) => void got.set(r.restore, [...(got.get(r.restore) ?? []), Buffer.from(b)])]));
    const plan = planRestores(requests, { readThroughGap: dev.readThroughGap });
    const t0 = dev.clock.now;
    await executePlan(dev, plan, codecs, sinks);
    const together = dev.clock.now - t0;
    for (const f of files) expect(Buffer.concat(got.get(f.name) ?? []).equals(f.data)).toBe(true);
    expect(plan.reads).toHaveLength(1);
    // one load + one locate at most + streaming the volume once
    expect(together).toBeLessThan(onePassSec * 1.1 + 10 + 4 + 2 + 1);

    // one after another: each restore locates to every one of its runs
    await dev.unmount();
    const t1 = dev.clock.now;
    for (const r of requests) await executePlan(dev, planRestores([r], { readThroughGap: 0 }), codecs, new Map([[r.restore, () => undefined]]));
    const oneByOne = dev.clock.now - t1;
    expect(oneByOne).toBeGreaterThan(together * 4);
  });

  it('shoe-shines when fed below its minimum streaming speed, streams when fed fast enough', async () => {
    const feed = async (bytesPerSec: number) => {
      const clock = new VirtualClock();
      const dev = new TapeModelDevice({ capacity: 1 << 30, rateBytesPerSec: 300e6, minStreamingBytesPerSec: 100e6, startStopSec: 2, clock });
      await dev.create('T1');
      const block = randomBytes(256 << 10);
      for (let i = 0; i < 40; i++) {
        await clock.advance(block.length / bytesPerSec); // the host produces the next block
        await dev.append([[block]]);
      }
      return dev.stats.startStops;
    };
    expect(await feed(50e6)).toBeGreaterThan(30);
    expect(await feed(150e6)).toBe(0);
  });

  it('locating costs more the farther it goes', async () => {
    const dev = lto();
    await dev.create('T1');
    for (let i = 0; i < 100; i++) await dev.append([[Buffer.alloc(1 << 20)]]);
    const cost = async (from: number, to: number) => {
      await dev.read(from, 1);
      const t = dev.clock.now;
      await dev.read(to, 1);
      return dev.clock.now - t;
    };
    expect(await cost(0, 90)).toBeGreaterThan(await cost(0, 10));
  });
});
