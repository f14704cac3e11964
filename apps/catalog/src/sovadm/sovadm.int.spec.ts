import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '@deltaflow/testing';
import type { MessageOfType } from '@deltaflow/contracts';
import { PROJECTIONS, stateDigest } from '../read-models';
import { fold, catalogTestDatabase } from '../testing/projection-test-kit';
import { INC, sovFixtureStream } from '../testing/sov-fixture-stream';
import { savesProjection } from '../saves/saves.projection';
import { backupCatalog, expireClientFiles, restoreCatalog } from './sovadm';

const DAY = 24 * 3600_000;
const T0 = Date.UTC(2026, 10, 22, 22, 0, 0);

describe('SOVADM', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => {
    db = await catalogTestDatabase();
    for (const p of PROJECTIONS) await fold(db.ds, p, sovFixtureStream());
  });
  afterEach(() => db.close());

  it('expires what is due, aborted files at once, and never a full save its live delta chain needs', async () => {
    const sent: Array<MessageOfType<'ClientFileExpire'>> = [];
    const send = async (c: Array<MessageOfType<'ClientFileExpire'>>) => void sent.push(...c);
    // day 8: the full is due, its delta (day 14) is not: the full stays
    const day8 = await expireClientFiles(db.ds, send, T0 + 8 * DAY);
    expect(day8.expired.map((f) => f.incarnation)).toEqual([INC.aborted]);
    expect(day8.kept).toEqual([expect.objectContaining({ incarnation: INC.full, reason: expect.stringMatching(/needed by its live delta chain \(client file db7-delta-1\)/) })]);
    expect(sent).toEqual([{ type: 'ClientFileExpire', stream: 'NIGHTLY', clientFile: 'db7-try', incarnation: INC.aborted, asOf: T0 + 8 * DAY }]);
    // day 15: the delta expires too, so the full goes with it (a dry run sends nothing)
    const day15 = await expireClientFiles(db.ds, send, T0 + 15 * DAY, { dryRun: true });
    expect(day15.expired.map((f) => f.incarnation).sort()).toEqual([INC.full, INC.delta, INC.aborted].sort());
    expect(sent).toHaveLength(1);
    // … unless a delta of the same full is kept elsewhere (a directory data set)
    await fold(db.ds, savesProjection, [
      {
        type: 'SaveCompleted',
        correlationId: 'd2',
        dbid: 7,
        dsid: { full: 1, deltaFrom: 2, deltaTo: 2, timestamp: T0 + DAY, lineage: 'L7a' },
        kind: 'delta',
        online: false,
        location: { kind: 'directory', name: 'db7-delta-2' },
        blocks: 1,
        bytes: 1,
        digest: '00',
        occurredAt: T0 + DAY,
      },
    ]);
    const kept = await expireClientFiles(db.ds, send, T0 + 15 * DAY, { dryRun: true });
    expect(kept.kept).toEqual([expect.objectContaining({ incarnation: INC.full, reason: expect.stringMatching(/data set db7-delta-2/) })]);
  });

  it('backs the catalog up to a file and restores it into a fresh schema with the same digest', async () => {
    const dir = tempDir('catalog-backup');
    try {
      const file = path.join(dir, 'b1.jsonl');
      const b = await backupCatalog(db.ds, file);
      expect(b.rows).toMatchObject({ catalog_sov_client_file: 4, catalog_sov_run: 5, catalog_sov_volume: 2 });
      const r = await restoreCatalog(db.url, 'catalog_restored', file);
      expect(r.digest).toBe(b.digest);
      expect(r.digest).toBe((await stateDigest(db.ds)).digest);
      fs.appendFileSync(file, '{"t":"catalog_sov_run","r":{"volser":"X","position":1,"incarnation":"x","first_seq":0,"superblocks":1,"last":true,"length":1,"bytes":1,"crcs":[1],"placed_at":1}}\n');
      await expect(restoreCatalog(db.url, 'catalog_restored', file)).rejects.toThrow(/differs from the backup/);
      await expect(restoreCatalog(db.url, 'public', file)).rejects.toThrow(/schema/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
