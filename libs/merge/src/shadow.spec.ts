import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase, lockDatabase } from '@deltaflow/blockdb';
import type { Area } from '@deltaflow/blocks';
import { MergeError, PlogImage, readShadowStatus, regenerate, restoreDelta } from './index';
import { digestOf, dsid, Sim, tempDir } from './testing';

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

/** The PLOG of `n` changes made to the source after LSN `from`: one image per change, LSNs from+1.. */
function plog(n: number, from: number): PlogImage[] {
  const out: PlogImage[] = [];
  let lsn = from;
  for (const k of sim.change(n)) {
    const [area, rabn] = k.split(':');
    out.push({ area: area as Area, rabn: Number(rabn), lsn: ++lsn, image: Buffer.from(sim.db.readBlock(area as Area, Number(rabn))) });
  }
  return out;
}

async function* stream(images: PlogImage[]): AsyncIterable<PlogImage> {
  for (const i of images) yield i;
}

beforeEach(async () => {
  dir = tempDir('shadow-');
  sim = new Sim(dir, 5);
  await sim.save(p('f'), dsid(1, 0, 0, 1), 'full', { lsn: 100 });
  await restoreDelta({ inputs: [p('f')], target: p('shadow'), shadow: true });
});
afterEach(() => {
  sim.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('regenerate (REGENERATE a shadow from the PLOG)', () => {
  it('applies the images above the shadow\'s LSN, last image per block winning, and moves the status', async () => {
    expect(readShadowStatus(p('shadow'))).toMatchObject({ lsn: 100, shadow: true, dsid: dsid(1, 0, 0, 1) });
    const old = plog(3, 50); // at or below the shadow's LSN: skipped
    const images = plog(6, 100);
    // the same block twice: the later image wins
    const again = { ...images[0], lsn: 107, image: Buffer.alloc(images[0].image.length, 0x77) };
    sim.db.writeBlock(again.area, again.rabn, again.image);
    for (const o of old) o.image.fill(0x11);
    const r = await regenerate({ target: p('shadow'), images: stream([...old, ...images, again]) });
    expect(r).toMatchObject({ fromLsn: 100, toLsn: 107, blocks: 7 });
    expect(r.digest).toBe(digestOf(p('shadow')));
    expect(readShadowStatus(p('shadow'))).toMatchObject({ lsn: 107, shadow: true, dsid: dsid(1, 0, 0, 1) });
    // The old images were skipped, and their blocks hold what the source held at LSN 100 or later.
    const t = BlockDatabase.open(p('shadow'), { readOnly: true });
    expect(Buffer.compare(t.readBlock(again.area, again.rabn), again.image)).toBe(0);
    for (const o of old) expect(t.readBlock(o.area, o.rabn)[0]).not.toBe(0x11);
    t.close();
  });

  it('stops at toLsn and records it; a later delta must reach that LSN', async () => {
    const images = plog(6, 100);
    const r = await regenerate({ target: p('shadow'), images: images, toLsn: 104 });
    expect(r).toMatchObject({ fromLsn: 100, toLsn: 104, blocks: 4 });
    expect(readShadowStatus(p('shadow'))?.lsn).toBe(104);
    const dlog = new Set(sim.dlog);
    await sim.save(p('d1-old'), dsid(1, 1, 1, 2), 'delta', { lsn: 103 });
    sim.dlog = dlog;
    const e = await errorOf(restoreDelta({ inputs: [p('d1-old')], target: p('shadow'), shadow: true }));
    expect(e.code).toBe('RESTORE_INPUT_INVALID');
    fs.rmSync(p('d1-old'));
    await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta', { lsn: 110 });
    const ok = await restoreDelta({ inputs: [p('d1')], target: p('shadow'), shadow: true });
    expect(ok.digest).toBe(sim.db.digest());
  });

  it('is refused for a shadow changed outside Deltaflow, a database that is not a shadow, and while locked', async () => {
    const db = BlockDatabase.open(p('shadow'));
    db.writeBlock('DATA', 3, Buffer.alloc(1024, 9));
    db.close();
    expect((await errorOf(regenerate({ target: p('shadow'), images: [] }))).code).toBe('RESTORE_INPUT_INVALID');
    await restoreDelta({ inputs: [p('f')], target: p('plain') });
    expect((await errorOf(regenerate({ target: p('plain'), images: [] }))).code).toBe('RESTORE_INPUT_INVALID');
    expect((await errorOf(regenerate({ target: p('none'), images: [] }))).code).toBe('NOT_FOUND');
    await restoreDelta({ inputs: [p('f')], target: p('shadow2'), shadow: true });
    const held = await lockDatabase(p('shadow2'));
    expect((await errorOf(regenerate({ target: p('shadow2'), images: [] }))).code).toBe('LOCKED');
    await held.release();
    const out = await errorOf(regenerate({ target: p('shadow2'), images: [{ area: 'DATA', rabn: 1, lsn: 200, image: Buffer.alloc(1024) }, { area: 'DATA', rabn: 2, lsn: 150, image: Buffer.alloc(1024) }] }));
    expect(out).toBeInstanceOf(MergeError);
    expect(out.code).toBe('VALIDATION');
  });

  it('an interrupted REGENERATE is run again from where it started; delta restores wait for it', async () => {
    const images = plog(8, 100);
    const ac = new AbortController();
    async function* abortingAfter(n: number) {
      let i = 0;
      for (const img of images) {
        if (i++ === n) ac.abort();
        yield img;
      }
    }
    expect((await errorOf(regenerate({ target: p('shadow'), images: abortingAfter(4), signal: ac.signal }))).code).toBe('INTERRUPTED');
    await sim.save(p('d1'), dsid(1, 1, 1, 2), 'delta', { lsn: 120 });
    expect((await errorOf(restoreDelta({ inputs: [p('d1')], target: p('shadow'), shadow: true }))).code).toBe('RESTORE_INPUT_INVALID');
    const r = await regenerate({ target: p('shadow'), images: stream(images) });
    expect(r).toMatchObject({ fromLsn: 100, toLsn: 108, blocks: 8 });
    await restoreDelta({ inputs: [p('d1')], target: p('shadow'), shadow: true });
    expect(digestOf(p('shadow'))).toBe(sim.db.digest());
  });
});
