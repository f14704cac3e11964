import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { SaveFormatError } from '@deltaflow/save-format';
import { mergeDataSets, restoreDelta } from './index';
import { digestOf, dsid, Sim, tempDir } from './testing';

/** A source database, a full save and `n` deltas of random changes; returns the set paths and the digest after each. */
async function history(dir: string, seed: number, changes: number[]) {
  const sim = new Sim(dir, seed);
  const sets = [path.join(dir, 's0')];
  await sim.save(sets[0], dsid(1, 0, 0, 1), 'full');
  for (let i = 0; i < changes.length; i++) {
    sim.change(changes[i]);
    const f = path.join(dir, `s${i + 1}`);
    await sim.save(f, dsid(1, i + 1, i + 1, i + 2), 'delta');
    sets.push(f);
  }
  const digest = sim.db.digest();
  sim.db.close();
  return { sets, digest };
}

const changesArb = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 8 });

describe('merge properties', () => {
  it('merging in stages equals merging at once (byte for byte)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), changesArb, fc.nat(), fc.boolean(), async (seed, changes, cut, withFull) => {
        const dir = tempDir('merge-prop-');
        try {
          const { sets } = await history(dir, seed, changes);
          const inputs = withFull ? sets : sets.slice(1);
          const k = 1 + (cut % (inputs.length - 1)); // first stage: inputs[0..k)
          const once = path.join(dir, 'once');
          await mergeDataSets({ inputs, output: once, writer: { fsync: false } });
          let staged = inputs[0];
          if (k > 1) {
            staged = path.join(dir, 'stage1');
            await mergeDataSets({ inputs: inputs.slice(0, k), output: staged, writer: { fsync: false } });
          }
          const twice = path.join(dir, 'twice');
          await mergeDataSets({ inputs: [staged, ...inputs.slice(k)], output: twice, writer: { fsync: false } });
          expect(fs.readFileSync(twice).equals(fs.readFileSync(once))).toBe(true);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 15 },
    );
  });

  it('restoring full + deltas equals applying the same block changes directly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), changesArb, async (seed, changes) => {
        const dir = tempDir('restore-prop-');
        try {
          const { sets, digest } = await history(dir, seed, changes);
          const r = await restoreDelta({ inputs: [...sets].reverse(), target: path.join(dir, 'target') });
          expect(digestOf(path.join(dir, 'target'))).toBe(digest);
          // the digest worked out during phase 1 (LookaheadDigest) is the database's
          expect(r.digest).toBe(digest);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 15 },
    );
  });

  it('a flipped byte or a truncation in any input fails the merge and leaves no output', async () => {
    const dir = tempDir('merge-corrupt-');
    try {
      const { sets } = await history(dir, 77, [5, 9, 3]);
      const pristine = sets.map((s) => fs.readFileSync(s));
      await fc.assert(
        fc.asyncProperty(fc.nat(sets.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (which, at, mask, truncate) => {
          const bytes = Buffer.from(pristine[which]);
          const pos = at % bytes.length;
          if (truncate) fs.writeFileSync(sets[which], bytes.subarray(0, pos));
          else {
            bytes[pos] ^= mask;
            fs.writeFileSync(sets[which], bytes);
          }
          const out = path.join(dir, 'out');
          let error: unknown = null;
          try {
            await mergeDataSets({ inputs: sets, output: out, writer: { fsync: false } });
          } catch (e) {
            error = e;
          }
          fs.writeFileSync(sets[which], pristine[which]);
          expect(error).not.toBeNull();
          expect(fs.existsSync(out)).toBe(false);
          expect(fs.existsSync(`${out}.partial`)).toBe(false);
          // Header damage may surface as a DSID or validation error; anything in the body is a positioned format error.
          if (error instanceof SaveFormatError && (error.code === 'CORRUPT_DATA' || error.code === 'TRUNCATED'))
            expect(error.position).toBeGreaterThanOrEqual(0);
        }),
        { numRuns: 80 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
