import * as fs from 'node:fs';
import * as path from 'node:path';
import { DsidRuleError, formatDsid } from '@deltaflow/dsid';
import { readSaveHeader, SaveFormatError, DataSetReader } from '@deltaflow/save-format';
import { cascadePath, MergeError, mergeDataSets, restoreDelta } from './index';
import { digestOf, dsid, Sim, tempDir } from './testing';

let dir: string;
beforeEach(() => {
  dir = tempDir('merge-');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const p = (name: string) => path.join(dir, name);
const leftovers = () => fs.readdirSync(dir).filter((f) => f.startsWith('out'));

async function restoreInto(target: string, inputs: string[]) {
  return restoreDelta({ inputs, target: p(target) });
}

async function errorOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('mergeDataSets', () => {
  it("runs the seed's four-step online save and merge sequence", async () => {
    const sim = new Sim(dir, 11);
    // Step 1: online full 1/0/t1; blocks changed during it are torn in the save; DSIM unloaded (1a).
    sim.change(5);
    const s1 = await sim.save(p('1.full'), dsid(1, 0, 0, 1), 'full', { online: true, during: () => sim.change(6) });
    await sim.dsim(p('1a.dsim'), dsid(1, 0, 0, 1), s1);
    const atEnd1 = sim.db.digest();
    const m1 = await mergeDataSets({ inputs: [p('1a.dsim'), p('1.full')], output: p('out-1.offline-full') });
    expect(formatDsid(m1.dsid)).toBe(formatDsid(dsid(1, 0, 0, 1)));
    expect(m1.kind).toBe('full');
    await restoreInto('r1', [p('out-1.offline-full')]);
    expect(digestOf(p('r1'))).toBe(atEnd1);

    // Step 2: online delta 1/1/t2 + DSIM merged to an offline delta (still 1/1/t2).
    sim.change(7);
    const s2 = await sim.save(p('2.delta'), dsid(1, 1, 1, 2), 'delta', { online: true, during: () => sim.change(3) });
    await sim.dsim(p('2a.dsim'), dsid(1, 1, 1, 2), s2);
    const m2 = await mergeDataSets({ inputs: [p('2.delta'), p('2a.dsim')], output: p('out-2.delta') });
    expect(m2.dsid).toEqual(dsid(1, 1, 1, 2));
    expect((await readSaveHeader(p('out-2.delta'))).online).toBe(false);

    // Step 3: online delta 1/2/t3 + DSIM, merged with step 2's result: consolidated 1/1-2/t3.
    sim.change(4);
    const s3 = await sim.save(p('3.delta'), dsid(1, 2, 2, 3), 'delta', { online: true, during: () => sim.change(2) });
    await sim.dsim(p('3a.dsim'), dsid(1, 2, 2, 3), s3);
    const m3 = await mergeDataSets({ inputs: [p('out-2.delta'), p('3.delta'), p('3a.dsim')], output: p('out-5.consolidated') });
    expect(m3.dsid).toEqual(dsid(1, 1, 2, 3));
    expect(m3.kind).toBe('delta');

    // Step 4: online delta 1/3/t4 + ORIGINAL DSIM; merge full (1) + unloaded DSIM (1a) + (5) + (6) + (6a).
    sim.change(6);
    const s4 = await sim.save(p('6.delta'), dsid(1, 3, 3, 4), 'delta', { online: true, during: () => sim.change(5) });
    await sim.dsim(p('6a.dsim'), dsid(1, 3, 3, 4), s4, 'original-dsim');
    const atEnd4 = sim.db.digest();
    const m4 = await mergeDataSets({
      inputs: [p('6a.dsim'), p('out-5.consolidated'), p('1.full'), p('6.delta'), p('1a.dsim')],
      output: p('out-7.full'),
    });
    expect(formatDsid(m4.dsid)).toBe(formatDsid(dsid(1, 0, 3, 4)));
    expect(m4.kind).toBe('full');
    expect(m4.applied.map((x) => path.basename(x))).toEqual(['1.full', '1a.dsim', 'out-5.consolidated', '6.delta', '6a.dsim']);
    const h = await readSaveHeader(p('out-7.full'));
    expect(h).toMatchObject({ kind: 'full', online: false, dsid: dsid(1, 0, 3, 4) });
    await restoreInto('r4', [p('out-7.full')]);
    expect(digestOf(p('r4'))).toBe(atEnd4);
    sim.db.close();
  });

  it('without the DSIM the torn blocks would survive: the DSIM is what makes an online save consistent', async () => {
    const sim = new Sim(dir, 3);
    const torn = await sim.save(p('f'), dsid(1, 0, 0, 1), 'full', { online: true, during: () => sim.change(4) });
    await sim.dsim(p('fa'), dsid(1, 0, 0, 1), torn);
    const e = await errorOf(mergeDataSets({ inputs: [p('f')], output: p('out') }));
    expect(e).toBeInstanceOf(DsidRuleError);
    expect(e.rule).toBe('ONLINE_SAVE_NEEDS_DSIM');
    const ok = await mergeDataSets({ inputs: [p('f'), p('fa')], output: p('out') });
    const r = await DataSetReader.open(ok.output.path);
    let tornSeen = 0;
    for await (const rec of r) if (rec.image[0] === 0xee) tornSeen++;
    expect(tornSeen).toBe(0);
    sim.db.close();
  });

  it('a merged offline delta from the output can be merged again with a later online delta', async () => {
    const sim = new Sim(dir, 5);
    await sim.save(p('f'), dsid(1, 0, 0, 1), 'full');
    sim.change(3);
    await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta');
    sim.change(3);
    const t = await sim.save(p('d2'), dsid(1, 2, 2, 3), 'delta', { online: true, during: () => sim.change(2) });
    await sim.dsim(p('d2a'), dsid(1, 2, 2, 3), t);
    const digest = sim.db.digest();
    await mergeDataSets({ inputs: [p('f'), p('d1')], output: p('out-a') });
    const b = await mergeDataSets({ inputs: [p('out-a'), p('d2'), p('d2a')], output: p('out-b') });
    expect(b.dsid).toEqual(dsid(1, 0, 2, 3));
    await restoreInto('r', [p('out-b')]);
    expect(digestOf(p('r'))).toBe(digest);
    sim.db.close();
  });

  describe('invalid inputs are rejected before any block is read, and leave no output', () => {
    let sim: Sim;
    beforeEach(async () => {
      sim = new Sim(dir, 9);
      await sim.save(p('f'), dsid(1, 0, 0, 1), 'full');
      sim.change(2);
      await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta');
      sim.change(2);
      await sim.save(p('d2'), dsid(1, 2, 2, 3), 'delta');
      sim.change(2);
      await sim.save(p('d3'), dsid(1, 3, 3, 4), 'delta');
    });
    afterEach(() => sim.db.close());

    it.each([
      ['a delta missing', ['f', 'd1', 'd3'], 'CONTINUOUS_SEQUENCE'],
      ['two full saves', ['f', 'f2'], 'AT_MOST_ONE_FULL'],
    ])('%s', async (_what, names, rule) => {
      if (names.includes('f2')) fs.copyFileSync(p('f'), p('f2'));
      const e = await errorOf(mergeDataSets({ inputs: names.map(p), output: p('out') }));
      expect(e).toBeInstanceOf(DsidRuleError);
      expect(e.code).toBe('MERGE_INPUT_INVALID');
      expect(e.rule).toBe(rule);
      expect(e.inputs.length).toBeGreaterThan(0);
      expect(leftovers()).toEqual([]);
    });

    it('rejects a lineage mix (the seed\'s "invalid merge" after a restore to an older status)', async () => {
      // 1/1/t2 was taken on L1; after restoring 1/0/t1 the database continued on branch L1>1:0#1.
      await sim.save(p('b1'), dsid(1, 1, 1, 5, 'L1>1:0#1'), 'delta');
      await sim.save(p('b2'), dsid(1, 2, 2, 6, 'L1>1:0#1'), 'delta');
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('d1'), p('b2')], output: p('out') }));
      expect(e.rule).toBe('SAME_LINEAGE');
      expect(e.inputs).toContain(p('d1'));
      expect(leftovers()).toEqual([]);
    });

    it('rejects inputs given twice and a missing input file', async () => {
      expect(await errorOf(mergeDataSets({ inputs: [p('f'), p('f')], output: p('out') }))).toBeInstanceOf(MergeError);
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('nope')], output: p('out') }));
      expect(e).toBeInstanceOf(SaveFormatError);
      expect(leftovers()).toEqual([]);
    });

    it('an aborted merge stops with INTERRUPTED and leaves no output', async () => {
      const ac = new AbortController();
      ac.abort();
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('d1')], output: p('out'), signal: ac.signal }));
      expect(e).toBeInstanceOf(MergeError);
      expect(e.code).toBe('INTERRUPTED');
      expect(leftovers()).toEqual([]);
    });

    it('refuses to overwrite an existing output', async () => {
      fs.writeFileSync(p('out'), 'keep');
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('d1')], output: p('out') }));
      expect(e.code).toBe('ALREADY_EXISTS');
      expect(fs.readFileSync(p('out'), 'utf8')).toBe('keep');
    });
  });

  describe('corrupt or truncated input is detected with its position and leaves no output', () => {
    let sim: Sim;
    beforeEach(async () => {
      sim = new Sim(dir, 4);
      await sim.save(p('f'), dsid(1, 0, 0, 1), 'full');
      sim.change(10);
      await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta');
    });
    afterEach(() => sim.db.close());

    it('a flipped byte inside a block image', async () => {
      const size = fs.statSync(p('f')).size;
      const buf = fs.readFileSync(p('f'));
      const at = Math.floor(size / 2);
      buf[at] ^= 0x40;
      fs.writeFileSync(p('f'), buf);
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('d1')], output: p('out') }));
      expect(e).toBeInstanceOf(SaveFormatError);
      expect(e.code).toBe('CORRUPT_DATA');
      expect(typeof e.position).toBe('number');
      expect(e.position).toBeLessThanOrEqual(at);
      expect(e.position).toBeGreaterThan(at - 1100);
      expect(leftovers()).toEqual([]);
    });

    it('a truncated delta', async () => {
      const size = fs.statSync(p('d1')).size;
      fs.truncateSync(p('d1'), size - 100);
      const e = await errorOf(mergeDataSets({ inputs: [p('f'), p('d1')], output: p('out') }));
      expect(e.code).toBe('TRUNCATED');
      expect(e.position).toBeGreaterThan(0);
      expect(e.position).toBeLessThanOrEqual(size - 100);
      expect(leftovers()).toEqual([]);
    });
  });

  describe('any number of inputs: a cascade beyond the fan-in', () => {
    /** full + n deltas; deltas 3 and 7 (when present) are online with unloaded DSIMs, the last one online with an original DSIM. */
    async function longChain(n: number) {
      const sim = new Sim(dir, 31);
      const inputs = [p('f')];
      await sim.save(p('f'), dsid(1, 0, 0, 1), 'full');
      for (let i = 1; i <= n; i++) {
        sim.change(4);
        const online = i === 3 || i === 7 || i === n;
        const torn = await sim.save(p(`d${i}`), dsid(1, i, i, i + 1), 'delta', online ? { online: true, during: () => sim.change(2) } : {});
        inputs.push(p(`d${i}`));
        if (online) {
          await sim.dsim(p(`d${i}a`), dsid(1, i, i, i + 1), torn, i === n ? 'original-dsim' : 'unloaded-dsim');
          inputs.push(p(`d${i}a`));
        }
      }
      const digest = sim.db.digest();
      sim.db.close();
      return { inputs, digest };
    }

    it('merges 12 deltas + DSIMs with fan-in 2, 3 and 5 into the same bytes as one pass, leaving no temporary', async () => {
      const { inputs, digest } = await longChain(12);
      expect(inputs).toHaveLength(16);
      const once = await mergeDataSets({ inputs: [...inputs].reverse(), output: p('out-once'), writer: { fsync: false } });
      expect(once.cascadePasses).toBe(0);
      expect(once.usedOriginalDsim).toBe(true);
      expect(once.dsid).toEqual(dsid(1, 0, 12, 13));
      for (const fanIn of [2, 3, 5]) {
        const progress: { bytesDone: number; bytesTotal: number }[] = [];
        const m = await mergeDataSets({ inputs, output: p(`out-f${fanIn}`), fanIn, writer: { fsync: false }, onProgress: (x) => progress.push(x) });
        expect(m.cascadePasses).toBeGreaterThan(0);
        expect(m.applied).toEqual(once.applied);
        expect(fs.readFileSync(p(`out-f${fanIn}`)).equals(fs.readFileSync(p('out-once')))).toBe(true);
        const last = progress[progress.length - 1];
        expect(last.bytesDone).toBe(last.bytesTotal);
        for (let i = 1; i < progress.length; i++) expect(progress[i].bytesDone).toBeGreaterThanOrEqual(progress[i - 1].bytesDone);
      }
      expect(fs.readdirSync(dir).filter((f) => f.includes('.cascade-') || f.endsWith('.partial'))).toEqual([]);
      await restoreInto('r', [p('out-f3')]);
      expect(digestOf(p('r'))).toBe(digest);
    });

    it('a corrupt input in a later group, or an abort, fails the cascade and leaves neither output nor temporaries', async () => {
      const { inputs } = await longChain(9);
      const victim = p('d8');
      const good = fs.readFileSync(victim);
      const bad = Buffer.from(good);
      bad[bad.length - 100] ^= 4;
      fs.writeFileSync(victim, bad);
      const e = await errorOf(mergeDataSets({ inputs, output: p('out'), fanIn: 3, writer: { fsync: false } }));
      expect(e.code).toBe('CORRUPT_DATA');
      expect(leftovers()).toEqual([]);
      fs.writeFileSync(victim, good);
      const ac = new AbortController();
      const a = await errorOf(
        mergeDataSets({
          inputs,
          output: p('out'),
          fanIn: 3,
          onProgress: () => {
            if (fs.existsSync(cascadePath(p('out'), 0, 1))) ac.abort();
          },
          signal: ac.signal,
        }),
      );
      expect(a.code).toBe('INTERRUPTED');
      expect(leftovers()).toEqual([]);
    });

    it('requireFull rejects a merge of deltas alone, before anything is written', async () => {
      const { inputs } = await longChain(3);
      const e = await errorOf(mergeDataSets({ inputs: inputs.slice(1), output: p('out'), requireFull: true }));
      expect(e).toBeInstanceOf(MergeError);
      expect(e.code).toBe('FULL_REQUIRED');
      expect(leftovers()).toEqual([]);
      const ok = await mergeDataSets({ inputs, output: p('out'), requireFull: true, writer: { fsync: false } });
      expect(ok.kind).toBe('full');
      expect(ok.usedOriginalDsim).toBe(true);
      const bad = await errorOf(mergeDataSets({ inputs, output: p('out2'), fanIn: 1 }));
      expect(bad.code).toBe('VALIDATION');
    });

    it('seedLimits keeps ADASAV\'s eight-delta rule for operators who want it', async () => {
      const { inputs } = await longChain(9);
      const e = await errorOf(mergeDataSets({ inputs, output: p('out'), seedLimits: true }));
      expect(e).toBeInstanceOf(DsidRuleError);
      expect(e.rule).toBe('AT_MOST_EIGHT_DELTAS');
      expect(leftovers()).toEqual([]);
    });
  });
});
