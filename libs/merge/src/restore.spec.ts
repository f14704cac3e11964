import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase, lockDatabase } from '@deltaflow/blockdb';
import { fileRanges, normalizeRanges, rangesContain } from '@deltaflow/blocks';
import { DsidRuleError } from '@deltaflow/dsid';
import { MergeError, readRestartState, readRestoreStatus, readShadowStatus, RESTART_FILE, restoreDelta } from './index';
import { areaBytes, digestOf, dsid, GEOMETRY, Sim, tempDir } from './testing';

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

  it('a whole-database restore into an existing database leaves no old byte: free blocks are zero, the files equal the saved ones', async () => {
    await chain(2);
    const t = BlockDatabase.create(p('t'), { dbid: sim.db.dbid, geometry: sim.db.geometry });
    for (const area of ['ASSO', 'DATA'] as const) t.writeBlocks(area, 1, Buffer.alloc(t.blockCount(area) * t.blockSize(area), 0x5a));
    t.close();
    await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t') });
    sim.db.flush();
    for (const f of ['ASSO', 'DATA']) expect(fs.readFileSync(path.join(p('t'), f)).equals(fs.readFileSync(path.join(sim.db.dir, f)))).toBe(true);
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
    const r = await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t'), scope: { kind: 'files', files: [1] } });
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

describe('restoreDelta: digest, ranges and LSN of the result', () => {
  it('reports the whole target digest, every block written (sorted, joined) and the newest end LSN', async () => {
    await sim.save(p('f'), dsid(1, 0, 0, 1), 'full', { lsn: 10 });
    sim.change(5);
    await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta', { lsn: 20 });
    const r = await restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') });
    expect(r.digest).toBe(digestOf(p('t')));
    expect(r.digest).toBe(sim.db.digest());
    expect(r.ranges).toEqual(sim.db.usedRanges);
    expect(r.lsn).toBe(20);
    expect(readShadowStatus(p('t'))).toMatchObject({ dsid: dsid(1, 0, 1, 2), lsn: 20, shadow: false });
  });

  it('a delta-only shadow apply reports the shadow DSID as a whole and only the blocks it wrote', async () => {
    await sim.save(p('f'), dsid(1, 0, 0, 1), 'full', { lsn: 10 });
    await restoreDelta({ inputs: [p('f')], target: p('s'), shadow: true });
    const changed = sim.change(3);
    await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta', { lsn: 20 });
    const r = await restoreDelta({ inputs: [p('d1')], target: p('s'), shadow: true });
    expect(r.dsid).toEqual(dsid(1, 0, 1, 2));
    expect(r.lsn).toBe(20);
    expect(r.digest).toBe(sim.db.digest());
    for (const k of changed) {
      const [area, rabn] = k.split(':');
      expect(rangesContain(r.ranges, area as 'ASSO' | 'DATA', Number(rabn))).toBe(true);
    }
    expect(rangesContain(r.ranges, 'DATA', 1) && !changed.has('DATA:1')).toBe(false);
    expect(readShadowStatus(p('s'))).toMatchObject({ lsn: 20, shadow: true });
  });
});

describe('restoreDelta: scope (GCB, FILE, FMOVE)', () => {
  const junkAll = (dir: string) => {
    const db = BlockDatabase.open(dir);
    for (const r of db.usedRanges) for (let b = r.from; b <= r.to; b++) db.writeBlock(r.area, b, Buffer.alloc(db.blockSize(r.area), 0x55));
    db.close();
  };

  it('gcb restores the GCB and DSST only; with files, those files too', async () => {
    await chain(2);
    await restoreDelta({ inputs: [p('f')], target: p('t') });
    junkAll(p('t'));
    const r = await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t'), scope: { kind: 'gcb' } });
    expect(r.ranges).toEqual([{ area: 'ASSO', from: 1, to: 2 }]);
    const t = BlockDatabase.open(p('t'), { readOnly: true });
    expect(Buffer.compare(t.readBlock('ASSO', 1), sim.db.readBlock('ASSO', 1))).toBe(0);
    expect(Buffer.compare(t.readBlock('ASSO', 2), sim.db.readBlock('ASSO', 2))).toBe(0);
    expect(t.readBlock('ASSO', 3)[0]).toBe(0x55); // file 1's FCB not restored
    t.close();
    expect(r.digest).toBe(digestOf(p('t')));
    const withFile = await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t'), scope: { kind: 'gcb', files: [2] } });
    expect(withFile.ranges).toEqual(normalizeRanges([{ area: 'ASSO', from: 1, to: 2 }, ...fileRanges(GEOMETRY, [2])]));
  });

  it('fmove writes the file\'s data storage from the given DATA RABN and records the moved extent', async () => {
    await chain(2);
    await restoreDelta({ inputs: [p('f')], target: p('t') });
    const r = await restoreDelta({ inputs: [p('f'), p('d1'), p('d2')], target: p('t'), scope: { kind: 'fmove', moves: [{ file: 2, rabn: 79 }] } });
    const t = BlockDatabase.open(p('t'), { readOnly: true });
    expect(t.geometry.files[1].extents.find((e) => e.part === 'DATA')).toEqual({ part: 'DATA', from: 79, to: 128 });
    expect(r.geometry).toEqual(t.geometry);
    for (let i = 0; i < 50; i++) expect(Buffer.compare(t.readBlock('DATA', 79 + i), sim.db.readBlock('DATA', 51 + i))).toBe(0);
    // file 2's index, FCB and FDT stay where they were
    for (const rabn of [5, 6, 21, 30]) expect(Buffer.compare(t.readBlock('ASSO', rabn), sim.db.readBlock('ASSO', rabn))).toBe(0);
    t.close();
    expect(r.ranges).toEqual(normalizeRanges([{ area: 'ASSO', from: 5, to: 6 }, { area: 'ASSO', from: 21, to: 30 }, { area: 'DATA', from: 79, to: 128 }]));
    expect(r.digest).toBe(digestOf(p('t')));
    expect(readRestoreStatus(p('t'))).toBeNull();
  });

  it('fmove refuses a move onto another file, beyond the area, or of an unknown file, writing nothing', async () => {
    await chain(1);
    await restoreDelta({ inputs: [p('f')], target: p('t') });
    const before = areaBytes(p('t'));
    const cases: [object, string][] = [
      [{ kind: 'fmove', moves: [{ file: 2, rabn: 40 }] }, 'RESTORE_INPUT_INVALID'],
      [{ kind: 'fmove', moves: [{ file: 2, rabn: 100 }] }, 'RESTORE_INPUT_INVALID'],
      [{ kind: 'fmove', moves: [{ file: 3, rabn: 101 }] }, 'VALIDATION'],
      [{ kind: 'fmove', moves: [] }, 'VALIDATION'],
      [{ kind: 'files', files: [0] }, 'VALIDATION'],
      [{ kind: 'nope' }, 'VALIDATION'],
    ];
    for (const [scope, code] of cases) {
      const e = await errorOf(restoreDelta({ inputs: [p('f'), p('d1')], target: p('t'), scope: scope as any }));
      expect(e).toBeInstanceOf(MergeError);
      expect(e.code).toBe(code);
    }
    expect(areaBytes(p('t')).equals(before)).toBe(true);
    expect(readRestartState(p('t'))).toBeNull();
  });
});

describe('restoreDelta: an interrupted restore resumed equals an uninterrupted one, byte for byte', () => {
  it('aborted in the middle of phase 2, resumed with the deltas only', async () => {
    await chain(4, 20);
    const all = [p('f'), p('d1'), p('d2'), p('d3'), p('d4')];
    const clean = await restoreDelta({ inputs: all, target: p('clean') });
    const ac = new AbortController();
    let deltasSeen = 0;
    const e = await errorOf(
      restoreDelta({
        inputs: all,
        target: p('t'),
        signal: ac.signal,
        progressInterval: 3,
        onProgress: (x) => {
          if (x.phase === 'deltas' && !x.phaseDone && ++deltasSeen === 4) ac.abort();
        },
      }),
    );
    expect(e.code).toBe('INTERRUPTED');
    expect(deltasSeen).toBe(4);
    expect(readRestartState(p('t'))?.applied).toBe(1);
    const r = await restoreDelta({ inputs: all.slice(1), target: p('t') });
    expect(r.resumed).toBe(true);
    expect(areaBytes(p('t')).equals(areaBytes(p('clean')))).toBe(true);
    expect(r.digest).toBe(clean.digest);
    expect(r.ranges).toEqual(clean.ranges);
    expect(r.dsid).toEqual(clean.dsid);
  });

  it('aborted in the middle of phase 1: without the full save it cannot resume; with it, it starts over', async () => {
    await chain(2, 20);
    const all = [p('f'), p('d1'), p('d2')];
    await restoreDelta({ inputs: all, target: p('clean') });
    const ac = new AbortController();
    const e = await errorOf(
      restoreDelta({
        inputs: all,
        target: p('t'),
        signal: ac.signal,
        progressInterval: 50,
        onProgress: (x) => {
          if (x.phase === 'full' && !x.phaseDone) ac.abort();
        },
      }),
    );
    expect(e.code).toBe('INTERRUPTED');
    expect(readRestartState(p('t'))?.applied).toBe(0);
    expect((await errorOf(restoreDelta({ inputs: all.slice(1), target: p('t') }))).code).toBe('RESTART_IMPOSSIBLE');
    const r = await restoreDelta({ inputs: all, target: p('t') });
    expect(r.resumed).toBe(false);
    expect(areaBytes(p('t')).equals(areaBytes(p('clean')))).toBe(true);
  });

  it('a resume with another scope is refused', async () => {
    await chain(2);
    const ac = new AbortController();
    await errorOf(
      restoreDelta({
        inputs: [p('f'), p('d1'), p('d2')],
        target: p('t'),
        scope: { kind: 'files', files: [1] },
        signal: ac.signal,
        onProgress: (x) => x.phaseDone && ac.abort(),
      }),
    );
    const e = await errorOf(restoreDelta({ inputs: [p('d1'), p('d2')], target: p('t'), scope: { kind: 'files', files: [2] } }));
    expect(e.code).toBe('RESTART_IMPOSSIBLE');
    const ok = await restoreDelta({ inputs: [p('d1'), p('d2')], target: p('t'), scope: { kind: 'files', files: [1] } });
    expect(ok.resumed).toBe(true);
  });

  it('more deltas than the fan-in: applied in groups, with a checkpoint after each', async () => {
    const digests = await chain(7);
    const all = [p('f'), ...[1, 2, 3, 4, 5, 6, 7].map((i) => p(`d${i}`))];
    const r = await restoreDelta({ inputs: all, target: p('t'), fanIn: 3 });
    expect(r.digest).toBe(digests[7]);
    expect(digestOf(p('t'))).toBe(digests[7]);
  });
});

describe('restoreDelta: the target is locked while it is restored', () => {
  it('refuses a second restore into the same target while one runs', async () => {
    await chain(1);
    await restoreDelta({ inputs: [p('f')], target: p('t') });
    const held = await lockDatabase(p('t'));
    const e = await errorOf(restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') }));
    expect(e.code).toBe('LOCKED');
    await held.release();
    await restoreDelta({ inputs: [p('f'), p('d1')], target: p('t') });
  });
});
