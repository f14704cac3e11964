import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { DsidRuleError } from '@deltaflow/dsid';
import { MergeError, readUnloadHeader, restoreDelta, unloadFile } from './index';
import { dsid, Sim, tempDir } from './testing';

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

beforeEach(async () => {
  dir = tempDir('unload-');
  sim = new Sim(dir, 13);
  await sim.save(p('f'), dsid(1, 0, 0, 1), 'full', { lsn: 10 });
  sim.change(20);
  await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta', { lsn: 20 });
  sim.change(20);
  const torn = await sim.save(p('d2'), dsid(1, 2, 2, 3), 'delta', { online: true, during: () => sim.change(5), lsn: 30 });
  await sim.dsim(p('d2a'), dsid(1, 2, 2, 3), torn, 'original-dsim');
});
afterEach(() => {
  sim.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('unloadFile (ADAULD from a full save + deltas + DSIM)', () => {
  it.each([[1], [2]])('file %i: a header line, then the FCB, FDT and extents, equal to the file in a restored database', async (file) => {
    const inputs = [p('d2a'), p('d1'), p('d2'), p('f')];
    const r = await unloadFile({ inputs, file, out: p(`file${file}.unl`) });
    await restoreDelta({ inputs, target: p('restored') });
    const h = readUnloadHeader(p(`file${file}.unl`));
    expect(h).toMatchObject({ format: 'deltaflow-file-unload', version: 1, dbid: 7, file, dsid: dsid(1, 0, 2, 3), endLsn: 30, blockSizes: { ASSO: 512, DATA: 1024 } });
    expect(h.sections.map((s) => s.name)).toEqual(file === 1 ? ['FCB', 'FDT', 'AC', 'INDEX', 'DATA'] : ['FCB', 'FDT', 'INDEX', 'DATA']);
    const bytes = fs.readFileSync(p(`file${file}.unl`));
    expect(bytes.length).toBe(r.bytes);
    expect(bytes.indexOf(0x0a)).toBe(h.dataOffset - 1);
    expect(createHash('sha256').update(bytes.subarray(h.dataOffset)).digest('hex')).toBe(h.sha256);
    const db = BlockDatabase.open(p('restored'), { readOnly: true });
    let blocks = 0;
    for (const s of h.sections) {
      const size = h.blockSizes[s.area];
      for (let i = 0; i <= s.to - s.from; i++, blocks++) {
        const got = bytes.subarray(s.offset + i * size, s.offset + (i + 1) * size);
        expect(Buffer.compare(got, db.readBlock(s.area, s.from + i))).toBe(0);
        expect(Buffer.compare(got, sim.db.readBlock(s.area, s.from + i))).toBe(0);
      }
    }
    db.close();
    expect(blocks).toBe(r.blocks);
    expect(r.blocks).toBe(h.blocks);
  });

  it('many inputs beyond the fan-in give the same file', async () => {
    const inputs = [p('f'), p('d1'), p('d2'), p('d2a')];
    const a = await unloadFile({ inputs, file: 2, out: p('a.unl') });
    const b = await unloadFile({ inputs, file: 2, out: p('b.unl'), fanIn: 2 });
    expect(fs.readFileSync(p('a.unl')).equals(fs.readFileSync(p('b.unl')))).toBe(true);
    expect(a.bytes).toBe(b.bytes);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.merged') || f.endsWith('.partial'))).toEqual([]);
  });

  it('needs the full save, a defined file and a new output; leaves nothing on failure', async () => {
    const e = await errorOf(unloadFile({ inputs: [p('d1')], file: 1, out: p('x.unl') }));
    expect(e).toBeInstanceOf(DsidRuleError);
    expect(e.rule).toBe('FULL_REQUIRED');
    expect((await errorOf(unloadFile({ inputs: [p('f')], file: 3, out: p('x.unl') }))).code).toBe('VALIDATION');
    fs.writeFileSync(p('x.unl'), 'keep');
    expect((await errorOf(unloadFile({ inputs: [p('f')], file: 1, out: p('x.unl') }))).code).toBe('ALREADY_EXISTS');
    const bad = Buffer.from(fs.readFileSync(p('d1')));
    bad[bad.length - 150] ^= 2;
    fs.writeFileSync(p('d1'), bad);
    const c = await errorOf(unloadFile({ inputs: [p('f'), p('d1')], file: 1, out: p('y.unl') }));
    expect(c.code).toBe('CORRUPT_DATA');
    expect(fs.existsSync(p('y.unl')) || fs.existsSync(p('y.unl.partial'))).toBe(false);
    const ac = new AbortController();
    ac.abort();
    const a = await errorOf(unloadFile({ inputs: [p('f')], file: 1, out: p('z.unl'), signal: ac.signal }));
    expect(a).toBeInstanceOf(MergeError);
    expect(a.code).toBe('INTERRUPTED');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('z.unl'))).toEqual([]);
  });
});
