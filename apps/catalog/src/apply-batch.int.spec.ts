/**
 * The batched apply: the same rows and digest as one record at a time, and idempotent when a
 * batch is delivered again or overlaps one applied (checkpoints and hash chain in the same transaction).
 */
import { encodeMessage } from '@deltaflow/contracts';
import { chainHook } from './audit/hash-chain';
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
