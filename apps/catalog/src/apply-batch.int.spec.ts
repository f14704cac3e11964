/**
 * The batched apply: the same rows and digest as one record at a time, and idempotent when a
 * batch is delivered again or overlaps one applied (checkpoints and hash chain in the same transaction).
 */
import { encodeMessage } from '@deltaflow/contracts';
import { applyRecords } from './apply-batch';
import { chainHook } from './audit/hash-chain';
import type { CatalogEvent } from './projection';
import { applyCatalogRecords, applyRecord, PROJECTIONS, stateDigest, type CatalogRecord } from './read-models';
import { catalogTestDatabase } from './testing/projection-test-kit';
import { catalogHistory } from './testing/history';

jest.setTimeout(180_000); // 500 events applied one at a time (one transaction each) and batched: slow on a loaded machine

const events = catalogHistory({ events: 500, databases: 2 });
/** the records as the log would hold them: per topic, one partition, offsets in order */
function records(): CatalogRecord[][] {
  const byTopic = new Map<string, CatalogRecord[]>();
  for (const event of events) {
    const r = encodeMessage(event);
    const list = byTopic.get(r.topic) ?? [];
    list.push({ event, at: { topic: r.topic, partition: 0, offset: String(list.length) }, value: r.value as Buffer });
    byTopic.set(r.topic, list);
  }
  return [...byTopic.values()];
}

it('gives the digest of the one-record-at-a-time apply, and a redelivered or overlapping batch changes nothing', async () => {
  const one = await catalogTestDatabase();
  const batched = await catalogTestDatabase();
  try {
    for (const list of records()) for (const r of list) await applyRecord(one.ds, r.event, r.at);
    for (const list of records()) {
      const half = Math.floor(list.length / 2);
      // records some read model handles (a progress event changes no row)
      const handled = (l: CatalogRecord[]) => l.filter((r) => PROJECTIONS.some((p) => p.canHandle(r.event))).length;
      expect((await applyCatalogRecords(batched.ds, list.slice(0, half), chainHook)).applied).toBe(handled(list.slice(0, half)));
      // the first half again with the rest: only the rest is new
      expect((await applyCatalogRecords(batched.ds, list, chainHook)).applied).toBe(handled(list.slice(half)));
      expect((await applyCatalogRecords(batched.ds, list.slice(half - 3), chainHook)).applied).toBe(0);
    }
    const a = await stateDigest(one.ds);
    const b = await stateDigest(batched.ds);
    expect(b.digest).toBe(a.digest);
    expect(b.rows.catalog_save).toBeGreaterThan(10);
    // one chain link per record, none twice
    const [{ n }] = await batched.ds.query('SELECT count(*)::int AS n FROM catalog_event_hash');
    expect(n).toBe(events.length);
    await expect(applyCatalogRecords(batched.ds, [records()[0][2], records()[0][1]])).rejects.toThrow(/ascend/);
  } finally {
    await one.close();
    await batched.close();
  }
});

/** Applies the events (per topic, one partition, in order) in batches of random sizes, folded and not; returns both digests and the statements each sent. */
async function foldedAndNot(list: readonly CatalogEvent[], seed: number, batchSize?: number) {
  const byTopic = new Map<string, CatalogRecord[]>();
  for (const event of list) {
    const r = encodeMessage(event);
    const recs = byTopic.get(r.topic) ?? [];
    recs.push({ event, at: { topic: r.topic, partition: 0, offset: String(recs.length) }, value: r.value as Buffer });
    byTopic.set(r.topic, recs);
  }
  // the same projections without their fold: a statement per event (what the batched apply did before)
  const unfolded = PROJECTIONS.map((p) => ({ ...p, prepare: undefined }));
  const folded = await catalogTestDatabase();
  const statements = await catalogTestDatabase();
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const sent = { folded: 0, statements: 0 };
  try {
    for (const recs of byTopic.values()) {
      for (let i = 0; i < recs.length; ) {
        const n = batchSize ?? 1 + random(i % 3 === 0 ? 20 : 900);
        const batch = recs.slice(i, i + n);
        sent.folded += (await applyRecords(folded.ds, PROJECTIONS, batch)).statements;
        sent.statements += (await applyRecords(statements.ds, unfolded, batch)).statements;
        // redelivered, and overlapping the next: nothing twice
        if (random(4) === 0) expect((await applyRecords(folded.ds, PROJECTIONS, recs.slice(Math.max(0, i - 5), i + n))).applied).toBe(0);
        i += n;
      }
    }
    return { unfolded: await stateDigest(statements.ds), folded: await stateDigest(folded.ds), sent };
  } finally {
    await folded.close();
    await statements.close();
  }
}

it('folds each read model in memory (row-fold.ts): the digest of the statements one by one, on a longer history in batches of any size, with far fewer statements', async () => {
  // long enough for volumes to fill and be scratched, client files to expire, DSIMs reset
  const long = catalogHistory({ events: 9_000, databases: 3 });
  const types = new Set(long.map((e) => e.type));
  for (const t of ['VolumeScratched', 'ClientFileExpired', 'DsimReset', 'SaveFailed', 'VolumeFull', 'MergeCompleted', 'RunMoved']) expect(types).toContain(t);
  const { unfolded, folded, sent } = await foldedAndNot(long, 7);
  expect(folded.rows).toEqual(unfolded.rows);
  expect(folded.digest).toBe(unfolded.digest);
  expect(unfolded.rows.catalog_sov_run).toBeGreaterThan(0);
  expect(sent.folded).toBeLessThan(sent.statements / 4);
});

it('folds give the statements\' rows on events out of order, repeated and missing (picked at random from a history)', async () => {
  const pool = catalogHistory({ events: 4_000, databases: 2 });
  // half of the picks among the few events of volumes (mounted, full, scratched), their runs and client files
  const volumeEvents = pool.filter((e) => ['VolumeMounted', 'VolumeFull', 'VolumeSuspect', 'VolumeScratched', 'RunPlaced', 'StreamDefined', 'ClientFileOpened', 'ClientFileExpired'].includes(e.type));
  volumeEvents.push(...volumeEvents.filter((e) => e.type !== 'RunPlaced').flatMap((e) => [e, e, e, e, e]));
  for (const seed of [1, 2, 3]) {
    let s = seed;
    const next = (n: number) => ((s = (s * 1103515245 + 12345) % 2 ** 31), s % n);
    // and now and then an optional field left out or a number changed (values the history never has)
    const perturb = (e: CatalogEvent): CatalogEvent => {
      const c: Record<string, unknown> = { ...e };
      for (const f of ['startLsn', 'endLsn', 'nextVolser', 'expiresAt', 'position']) if (f in c && (e.type !== 'RunPlaced' || f !== 'position') && next(5) === 0) delete c[f];
      for (const f of ['position', 'length', 'bytes', 'blocks', 'startLsn', 'endLsn']) if (typeof c[f] === 'number' && next(5) === 0) c[f] = next(200_000_000);
      if ((e.type === 'DsimReset' || e.type === 'SaveFailed') && next(3) === 0) delete c.dsid;
      try {
        encodeMessage(c as unknown as CatalogEvent); // only what the contracts allow
        return c as unknown as CatalogEvent;
      } catch {
        return e;
      }
    };
    const list = Array.from({ length: 2_500 }, () => perturb(next(2) === 0 ? pool[next(pool.length)] : volumeEvents[next(volumeEvents.length)]));
    const { unfolded, folded } = await foldedAndNot(list, seed);
    expect(folded.rows).toEqual(unfolded.rows);
    expect(folded.digest).toBe(unfolded.digest);
  }
});

it('folds: a volume scratched in a batch deletes its runs and the expired client files only on it, for the batch\'s later events too', async () => {
  const pool = catalogHistory({ events: 400, databases: 1 });
  const of = <T extends CatalogEvent['type']>(type: T) => pool.find((e) => e.type === type) as Extract<CatalogEvent, { type: T }>;
  const [opened, run, expired, mounted] = [of('ClientFileOpened'), of('RunPlaced'), of('ClientFileExpired'), of('VolumeMounted')];
  const at = opened.occurredAt;
  const file = (incarnation: string) => ({ ...opened, incarnation, occurredAt: at + 1 });
  const runOf = (incarnation: string, volser: string, position: number) => ({ ...run, incarnation, volser, position, occurredAt: at + 2 });
  const list: CatalogEvent[] = [
    of('StreamDefined'),
    { ...mounted, volser: 'A00001', occurredAt: at },
    { ...mounted, volser: 'B00001', occurredAt: at },
    file('00000000-0000-4000-8000-00000000000a'), // only on A, expired: goes with A
    file('00000000-0000-4000-8000-00000000000b'), // on A and B, expired: stays
    file('00000000-0000-4000-8000-00000000000c'), // only on A, not expired: stays
    runOf('00000000-0000-4000-8000-00000000000a', 'A00001', 600),
    runOf('00000000-0000-4000-8000-00000000000b', 'A00001', 900),
    runOf('00000000-0000-4000-8000-00000000000b', 'B00001', 600),
    runOf('00000000-0000-4000-8000-00000000000c', 'A00001', 1200),
    { ...expired, incarnation: '00000000-0000-4000-8000-00000000000a', occurredAt: at + 3 },
    { ...expired, incarnation: '00000000-0000-4000-8000-00000000000b', occurredAt: at + 3 },
    { type: 'VolumeScratched', stream: mounted.stream, volser: 'A00001', occurredAt: at + 4 },
    // after the scratch, in the same batch: a run of the deleted file is not placed; a run where a deleted one was is
    runOf('00000000-0000-4000-8000-00000000000a', 'B00001', 900),
    runOf('00000000-0000-4000-8000-00000000000c', 'A00001', 600),
  ];
  const { unfolded, folded } = await foldedAndNot(list, 1, list.length);
  expect(unfolded.rows).toMatchObject({ catalog_sov_client_file: 2, catalog_sov_run: 2 });
  expect(folded.rows).toEqual(unfolded.rows);
  expect(folded.digest).toBe(unfolded.digest);
});

