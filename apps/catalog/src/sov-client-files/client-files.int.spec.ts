import { fold, rowsOf, catalogTestDatabase } from '../testing/projection-test-kit';
import { INC, sovFixtureStream } from '../testing/sov-fixture-stream';
import { clientFilesProjection, queryClientFiles, queryPlacements, volumeFactsDigest } from './client-files.projection';
import { streamsProjection, queryStreams } from '../sov-streams/streams.projection';
import { volumesProjection, queryVolumes } from '../sov-volumes/volumes.projection';
import { catalogDigest, evolveCatalog, initialCatalog, type CatalogEvent } from '@deltaflow/tape';

describe('streaming read models', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());
  const all = [streamsProjection, volumesProjection, clientFilesProjection];
  const foldAll = async () => {
    for (const p of all) await fold(db.ds, p, sovFixtureStream());
  };

  it('folds client files with their runs, volsers and states; placements in sequence order', async () => {
    await foldAll();
    const files = await queryClientFiles(db.ds, { stream: 'NIGHTLY', dbid: 7 });
    expect(files.map((f) => [f.clientFile, f.state, f.superblocks, f.volsers])).toEqual([
      ['db7-full-1', 'closed', 19, ['V00001', 'V00002']],
      ['db7-delta-1', 'closed', 4, ['V00001']],
      ['db7-try', 'aborted', 0, ['V00002']],
    ]);
    expect(files[0]).toMatchObject({ dbid: 7, kind: 'full', dsid: { full: 1, deltaFrom: 0, lineage: 'L7a' }, sha256: 'f'.repeat(64), bytes: 19 * 262144 });
    expect((await queryClientFiles(db.ds, { name: 'db8-full-1' })).map((f) => f.incarnation)).toEqual([INC.other]);
    const p = await queryPlacements(db.ds, INC.full);
    expect(p?.runs.map((r) => [r.volser, r.firstSeq, r.superblocks, r.last])).toEqual([
      ['V00001', 0, 16, false],
      ['V00002', 16, 3, true],
    ]);
    expect(p?.open).toMatchObject({ incarnation: INC.full, clientFile: 'db7-full-1', codec: { compression: 'none', encryption: 'none' } });
    expect(p?.close).toMatchObject({ superblocks: 19 });
    expect(await queryPlacements(db.ds, '99999999-9999-4999-8999-999999999999')).toBeNull();
  });

  it('folds streams with devices, and volumes with fill, state and the client files on each (LIST)', async () => {
    await foldAll();
    const [s] = await queryStreams(db.ds);
    expect(s).toMatchObject({ stream: 'NIGHTLY', minDevices: 1, maxDevices: 2, runSuperblocks: 16, openClientFiles: 0, volumes: 2 });
    expect(s.devices).toEqual([
      { device: 'd1', status: 'failed', reason: 'EIO' },
      { device: 'd2', status: 'active' },
    ]);
    const vols = await queryVolumes(db.ds);
    expect(vols.map((v) => [v.volser, v.state, v.previousVolser, v.nextVolser, v.fill])).toEqual([
      ['V00001', 'full', undefined, 'V00002', 1],
      ['V00002', 'suspect', 'V00001', undefined, expect.any(Number)],
    ]);
    expect(vols[0].clientFiles.map((f) => f.clientFile)).toEqual(['db7-delta-1', 'db7-full-1']);
    expect(vols[1].suspect).toEqual({ position: 700 + 6 * 262216, reason: 'EIO' });
    expect(vols[1].expiresAt).toBeNull(); // db7-try and db8-full-1 carry no expiry
  });

  it('is idempotent when run twice', async () => {
    await foldAll();
    const once = await Promise.all(all.map((p) => rowsOf(db.ds, p)));
    await foldAll();
    expect(await Promise.all(all.map((p) => rowsOf(db.ds, p)))).toEqual(once);
  });

  it('its on-volume facts digest is libs/tape catalogDigest of the same events', async () => {
    await foldAll();
    const fold = initialCatalog();
    for (const e of sovFixtureStream()) if (['VolumeMounted', 'VolumeFull', 'ClientFileOpened', 'RunPlaced', 'ClientFileClosed', 'ClientFileAborted'].includes(e.type)) evolveCatalog(fold, e as CatalogEvent);
    expect(await volumeFactsDigest(db.ds)).toBe(catalogDigest(fold));
  });

  it('a scratched volume takes its runs, and expired client files left on no volume, with it', async () => {
    await foldAll();
    const more = [
      { type: 'ClientFileExpired' as const, stream: 'NIGHTLY', clientFile: 'db7-delta-1', incarnation: INC.delta, occurredAt: 1 },
      { type: 'ClientFileExpired' as const, stream: 'NIGHTLY', clientFile: 'db7-full-1', incarnation: INC.full, occurredAt: 1 },
      { type: 'VolumeScratched' as const, stream: 'NIGHTLY', volser: 'V00001', occurredAt: 2 },
    ];
    for (const p of all) await fold(db.ds, p, more);
    const files = await queryClientFiles(db.ds, {});
    expect(files.map((f) => [f.clientFile, f.state, f.volsers])).toEqual([
      ['db7-full-1', 'expired', ['V00002']],
      ['db7-try', 'aborted', ['V00002']],
      ['db8-full-1', 'closed', ['V00002']],
    ]);
    expect((await queryVolumes(db.ds)).map((v) => [v.volser, v.state])).toEqual([
      ['V00001', 'scratch'],
      ['V00002', 'suspect'],
    ]);
  });
});
