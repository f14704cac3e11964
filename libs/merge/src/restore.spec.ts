import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { fileRanges, rangesContain } from '@deltaflow/blocks';
import { DsidRuleError } from '@deltaflow/dsid';
import { MergeError, readRestartState, readRestoreStatus, RESTART_FILE, restoreDelta } from './index';
import { digestOf, dsid, GEOMETRY, Sim, tempDir } from './testing';

let dir: string;
let sim: Sim;
const p = (name: string) => path.join(dir, name);

async function errorOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** full f (1/0/t1), then deltas d1..dn (1/i/t(i+1)), each after `changes` block changes; returns digests after each. */
async function chain(n: number, changes = 6): Promise<string[]> {
  const digests = [sim.db.digest()];
  await sim.save(p('f'), dsid(1, 0, 0, 1), 'full');
  for (let i = 1; i <= n; i++) {
    sim.change(changes);
    await sim.save(p(`d${i}`), dsid(1, i, i, i + 1), 'delta');
    digests.push(sim.db.digest());
  }
  return digests;
}

beforeEach(() => {
  dir = tempDir('restore-');
  sim = new Sim(dir, 21);
});
afterEach(() => {
  sim.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('restoreDelta', () => {
  it('restores a full save alone (a conventional restore) into a new database', async () => {
    const [d0] = await chain(0);
    const r = await restoreDelta({ inputs: [p('f')], target: p('t') });
    expect(r.conventional).toBe(true);
    expect(digestOf(p('t'))).toBe(d0);
    expect(fs.existsSync(path.join(p('t'), RESTART_FILE))).toBe(false);
  });

  it('restores full + consecutive deltas to the status of the last delta', async () => {
    const digests = await chain(3);
    const r = await restoreDelta({ inputs: [p('d3'), p('d1'), p('f'), p('d2')], target: p('t') });
    expect(r.dsid).toEqual(dsid(1, 0, 3, 4));
    expect(r.conventional).toBe(false);
    expect(r.applied.map((x) => path.basename(x))).toEqual(['f', 'd1', 'd2', 'd3']);
    expect(digestOf(p('t'))).toBe(digests[3]);
  });

  it('rejects a restore without a full save (not a shadow) and changes nothing', async () => {
    await chain(2);
    const e = await errorOf(restoreDelta({ inputs: [p('d1'), p('d2')], target: p('t') }));
    expect(e).toBeInstanceOf(DsidRuleError);
    expect(e.rule).toBe('FULL_REQUIRED');
    expect(fs.existsSync(p('t'))).toBe(false);
  });

  it('rejects a target of another geometry without writing to it', async () => {
    await chain(1);
    const other = BlockDatabase.create(p('t'), {
      dbid: 7,
      geometry: { ...GEOMETRY, data: { blockSize: 1024, blocks: 200 } },
    });
    other.close();
    const before = digestOf(p('t'));
    const e = await errorOf(restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') }));
    expect(e).toBeInstanceOf(MergeError);
    expect(e.code).toBe('RESTORE_INPUT_INVALID');
    expect(digestOf(p('t'))).toBe(before);
  });

  it('restricted to chosen files, writes only their FCB, FDT and extents', async () => {
    await chain(2);
    await restoreDelta({ inputs: [p('f')], target: p('t') });
    const db = BlockDatabase.open(p('t'));
    const junk = Buffer.alloc(1024, 0x55);
    db.writeBlock('DATA', 60, junk); // file 2's data storage
    db.writeBlock('DATA', 5, junk); // file 1's data storage
    db.close();
    const r = await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t'), files: [1] });
    const only = fileRanges(GEOMETRY, [1]);
    const t = BlockDatabase.open(p('t'), { readOnly: true });
    let checked = 0;
    for (const b of t.usedBlocks()) {
      const src = sim.db.readBlock(b.area, b.rabn);
      if (rangesContain(only, b.area, b.rabn)) {
        expect(Buffer.compare(b.image, src)).toBe(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(t.readBlock('DATA', 60)).toEqual(junk); // file 2 untouched
    t.close();
    expect(r.blocksWritten).toBeGreaterThanOrEqual(checked); // the full, then the deltas of file 1
    expect(readRestoreStatus(p('t'))).toBeNull(); // a partial restore leaves no whole-database status
  });

  it('an interrupted restore resumes with the deltas only, once the full save was restored', async () => {
    const digests = await chain(3);
    // Interrupt: d2 is damaged, so the restore stops after the full was restored.
    const good = fs.readFileSync(p('d2'));
    const bad = Buffer.from(good);
    bad[bad.length - 200] ^= 1;
    fs.writeFileSync(p('d2'), bad);
    const e = await errorOf(restoreDelta({ inputs: [p('f'), p('d1'), p('d2'), p('d3')], target: p('t') }));
    expect(e.code).toBe('CORRUPT_DATA');
    const st = readRestartState(p('t'));
    expect(st?.applied).toBe(1);
    fs.writeFileSync(p('d2'), good);

    // Resubmitting the wrong set is refused, naming what is missing.
    const wrong = await errorOf(restoreDelta({ inputs: [p('d1'), p('d2')], target: p('t') }));
    expect(wrong).toBeInstanceOf(MergeError);
    expect(wrong.code).toBe('RESTART_IMPOSSIBLE');
    expect(wrong.inputs).toContain(p('d3'));

    // Resubmitted without the full save: continues with the deltas.
    const r = await restoreDelta({ inputs: [p('d1'), p('d2'), p('d3')], target: p('t') });
    expect(r.resumed).toBe(true);
    expect(r.dsid).toEqual(dsid(1, 0, 3, 4));
    expect(digestOf(p('t'))).toBe(digests[3]);
    expect(readRestartState(p('t'))).toBeNull();
  });

  it('an AbortSignal interrupts after the full save; the resume needs only the deltas', async () => {
    const digests = await chain(2);
    const ac = new AbortController();
    const phases: string[] = [];
    const e = await errorOf(
      restoreDelta({
        inputs: [p('f'), p('d1'), p('d2')],
        target: p('t'),
        signal: ac.signal,
        onProgress: (x) => {
          if (x.phaseDone) phases.push(x.phase);
          if (x.phase === 'full' && x.phaseDone) ac.abort();
        },
      }),
    );
    expect(e).toBeInstanceOf(MergeError);
    expect(e.code).toBe('INTERRUPTED');
    expect(phases).toEqual(['full']);
    expect(readRestartState(p('t'))?.applied).toBe(1);
    const r = await restoreDelta({ inputs: [p('d2'), p('d1')], target: p('t') });
    expect(r.resumed).toBe(true);
    expect(digestOf(p('t'))).toBe(digests[2]);
  });

  it('an interruption during the full save cannot be resumed without it', async () => {
    await chain(1);
    const good = fs.readFileSync(p('f'));
    const bad = Buffer.from(good);
    bad[bad.length - 300] ^= 1;
    fs.writeFileSync(p('f'), bad);
    await errorOf(restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') }));
    expect(readRestartState(p('t'))?.applied).toBe(0);
    const e = await errorOf(restoreDelta({ inputs: [p('d1')], target: p('t') }));
    expect(e.code).toBe('RESTART_IMPOSSIBLE');
    fs.writeFileSync(p('f'), good);
    await restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') });
    expect(readRestartState(p('t'))).toBeNull();
  });

  it('keeps a shadow database current with deltas alone, refusing a gap', async () => {
    const digests = await chain(4);
    await restoreDelta({ inputs: [p('f')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(digests[0]);
    await restoreDelta({ inputs: [p('d1')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(digests[1]);
    const gap = await errorOf(restoreDelta({ inputs: [p('d3')], target: p('shadow'), shadow: true }));
    expect(gap.rule).toBe('CONTINUOUS_SEQUENCE');
    expect(digestOf(p('shadow'))).toBe(digests[1]);
    await restoreDelta({ inputs: [p('d2'), p('d3')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(digests[3]);
    await restoreDelta({ inputs: [p('d4')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(digests[4]);
  });

  it('a shadow changed by anyone else since its last restore needs a full save again', async () => {
    const digests = await chain(2);
    await restoreDelta({ inputs: [p('f'), p('d1')], target: p('shadow'), shadow: true });
    const db = BlockDatabase.open(p('shadow'));
    db.writeBlock('DATA', 3, Buffer.alloc(1024, 9)); // an update nucleus ran on the shadow
    db.close();
    const e = await errorOf(restoreDelta({ inputs: [p('d2')], target: p('shadow'), shadow: true }));
    expect(e).toBeInstanceOf(MergeError);
    expect(e.code).toBe('RESTORE_INPUT_INVALID');
    expect(e.message).toMatch(/changed since its last restore/);
    await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(digests[2]);
  });

  it('a delta restore into a database that is not an initialized shadow is refused', async () => {
    await chain(1);
    await restoreDelta({ inputs: [p('f')], target: p('t') }); // not restored as a shadow
    const e = await errorOf(restoreDelta({ inputs: [p('d1')], target: p('t'), shadow: true }));
    expect(e).toBeInstanceOf(MergeError);
    expect(e.code).toBe('RESTORE_INPUT_INVALID');
  });
});
