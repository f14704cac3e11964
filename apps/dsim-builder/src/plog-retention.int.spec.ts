/**
 * The PLOG retention on the embedded broker and PostgreSQL: dsf.plog is cut (DeleteRecords) at the
 * sync point at or below the start of each database's last kept save, only once every database of
 * the partition has enough saves, and what was cut is gone for a reader too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fillImage } from '@deltaflow/blocks/testing';
import type { Dsid } from '@deltaflow/dsid';
import { createKafka } from '@deltaflow/service-kit';
import { pollUntil, Publisher } from '@deltaflow/testing';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startEmbeddedPostgres, type RunningPostgres } from '@deltaflow/embedded-postgres';
import type { Admin } from 'kafkajs';
import { startDsimBuilder, type RunningDsimBuilder } from './app';

jest.setTimeout(120_000);

let kafka: EmbeddedKafka;
let pg: RunningPostgres;
let pub: Publisher;
let admin: Admin;
let builder: RunningDsimBuilder;
const lines: string[] = [];
const dsid: Dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1_700_000_000_000, lineage: 'L1' };

const completed = (dbid: number, id: string, startLsn: number) =>
  pub.publish({ type: 'SaveCompleted', correlationId: id, dbid, dsid, kind: 'full', online: false, startLsn, endLsn: startLsn, location: { kind: 'directory', name: id }, blocks: 1, bytes: 1, digest: '00000000', occurredAt: 1 });
const low = async () => Number((await admin.fetchTopicOffsets('dsf.plog')).find((p) => p.partition === 0)!.low);
const high = async () => Number((await admin.fetchTopicOffsets('dsf.plog')).find((p) => p.partition === 0)!.high);
const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => pollUntil(what, f, { ms, everyMs: 200, detail: () => lines.join('\n') });

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plog-retention-int-'));
  fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
  [kafka, pg] = await Promise.all([startEmbeddedKafka({ dataDir: path.join(root, 'kafka') }), startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), fsync: false })]);
  pub = await new Publisher(kafka.brokers).start();
  admin = createKafka({ clientId: 'plog-retention-test', brokers: kafka.brokers }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'dsf.plog', numPartitions: 1 }, { topic: 'dsf.events', numPartitions: 1 }], waitForLeaders: true });
  builder = await startDsimBuilder({
    brokers: kafka.brokers,
    databaseUrl: pg.url,
    dataDir: path.join(root, 'data'),
    fsync: false,
    log: (m) => lines.push(m),
    plogKeepSaves: 1,
    plogRetentionIntervalMs: 300,
  });
});

afterAll(async () => {
  await builder?.stop();
  await admin?.disconnect();
  await pub?.stop();
  await kafka?.stop();
  await pg?.stop();
});

describe('PLOG retention (DSIM builder)', () => {
  it('waits for every database of the partition, then cuts at the sync below the last save start, never below what a database needs', async () => {
    // database 21: syncs at 10, 20, 30 with images between; database 22 shares the partition
    await pub.publish({ type: 'PlogSync', dbid: 21, lsn: 10, syncId: 'a10' }); // offset 0
    await pub.publish({ type: 'PlogImage', dbid: 21, area: 'DATA', rabn: 1, lsn: 11, image: fillImage(1024, 11) });
    await pub.publish({ type: 'PlogSync', dbid: 22, lsn: 5, syncId: 'b5' }); // offset 2
    await pub.publish({ type: 'PlogSync', dbid: 21, lsn: 20, syncId: 'a20' }); // offset 3
    await pub.publish({ type: 'PlogImage', dbid: 21, area: 'DATA', rabn: 1, lsn: 21, image: fillImage(1024, 21) });
    await pub.publish({ type: 'PlogSync', dbid: 22, lsn: 15, syncId: 'b15' }); // offset 5
    await pub.publish({ type: 'PlogSync', dbid: 21, lsn: 30, syncId: 'a30' }); // offset 6
    await completed(21, 'a-save', 25); // keeps the PLOG of 21 since its sync at 20 (offset 3)

    await until('the retention to say why it waits for database 22', async () => (lines.some((l) => /keeps partition 0 whole for database 22: 0 completed save\(s\)/.test(l)) ? true : undefined));
    expect(await low()).toBe(0);

    await completed(22, 'b-save', 16); // keeps the PLOG of 22 since its sync at 15 (offset 5): the partition since offset 3
    await until('the cut', async () => ((await low()) === 3 ? true : undefined));
    expect(lines.join('\n')).toMatch(/dsf\.plog\[0\] truncated below offset 3 \(was 0\)/);

    // what is cut is gone for a reader; what is kept is whole
    const consumer = createKafka({ clientId: 'plog-reader', brokers: kafka.brokers }).consumer({ groupId: `plog-reader-${Date.now()}` });
    const offsets: number[] = [];
    const end = await high();
    await consumer.connect();
    await consumer.subscribe({ topics: ['dsf.plog'], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void offsets.push(Number(message.offset)) });
    await until('the kept records', async () => (offsets.length >= end - 3 ? true : undefined));
    await consumer.disconnect();
    expect(offsets.sort((a, b) => a - b)).toEqual([3, 4, 5, 6]);

    // a later save moves the cut again, at the next pass
    await pub.publish({ type: 'PlogSync', dbid: 22, lsn: 40, syncId: 'b40' }); // offset 7
    await completed(21, 'a-save-2', 31);
    await completed(22, 'b-save-2', 41);
    await until('the second cut', async () => ((await low()) === 6 ? true : undefined));
  });
});
