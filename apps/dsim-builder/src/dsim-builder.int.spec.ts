import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { MessageOfType } from '@deltaflow/contracts';
import type { Dsid } from '@deltaflow/dsid';
import { SMALL_GEOMETRY, fillImage } from '@deltaflow/blocks/testing';
import { createKafka } from '@deltaflow/service-kit';
import { Publisher, TopicCollector } from '@deltaflow/testing';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startEmbeddedPostgres, type RunningPostgres } from '@deltaflow/embedded-postgres';
import { DataSetReader } from '@deltaflow/save-format';
import { startDsimBuilder, type RunningDsimBuilder } from './app';

jest.setTimeout(120_000);

const DBID = 9;
let kafka: EmbeddedKafka;
let pg: RunningPostgres;
let dataDir: string;
let pub: Publisher;
let events: TopicCollector;
let builder: RunningDsimBuilder;
const dsid: Dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1_700_000_000_000, lineage: 'L1' };
const start = (groupId = 'deltaflow.dsim-builder') =>
  startDsimBuilder({ brokers: kafka.brokers, databaseUrl: pg.url, dataDir, fsync: false, groupId, log: () => undefined });

const image = (area: 'ASSO' | 'DATA', seed: number) => fillImage(area === 'ASSO' ? 512 : 1024, seed);
const plog = (area: 'ASSO' | 'DATA', rabn: number, lsn: number) =>
  pub.publish({ type: 'PlogImage', dbid: DBID, area, rabn, lsn, image: image(area, lsn) });

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dsim-builder-int-'));
  fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
  [kafka, pg] = await Promise.all([startEmbeddedKafka({ dataDir: path.join(root, 'kafka') }), startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), fsync: false })]);
  dataDir = path.join(root, 'data');
  BlockDatabase.create(path.join(dataDir, 'databases', String(DBID)), { dbid: DBID, geometry: SMALL_GEOMETRY }).close();
  pub = await new Publisher(kafka.brokers).start();
  events = await new TopicCollector(kafka.brokers, 'dsf.events').start();
  builder = await start();
});

afterAll(async () => {
  await builder?.stop();
  await events?.stop();
  await pub?.stop();
  await kafka?.stop();
  await pg?.stop();
});

describe('DSIM builder on the embedded broker and PostgreSQL', () => {
  it('builds the last image per block in (s, e], completes at the end sync, unloads with the save DSID, and frees', async () => {
    await plog('DATA', 1, 5); // before the start sync: not in the DSIM
    await pub.publish({ type: 'PlogSync', dbid: DBID, lsn: 10, syncId: 's.start' });
    await plog('DATA', 2, 11);
    await pub.publish({ type: 'SaveStarted', correlationId: 's1', dbid: DBID, dsid, kind: 'full', online: true, startLsn: 10, occurredAt: 1 });
    await plog('DATA', 2, 12);
    await plog('ASSO', 30, 13);
    await plog('DATA', 1, 14);
    await events.waitFor((m) => m.type === 'DsimAcquired' && m.correlationId === 's1');
    await pub.publish({
      type: 'SaveCompleted',
      correlationId: 's1',
      dbid: DBID,
      dsid,
      kind: 'full',
      online: true,
      startLsn: 10,
      endLsn: 20,
      location: { kind: 'directory', name: 'full-1' },
      blocks: 1,
      bytes: 1,
      digest: '00000000',
      occurredAt: 2,
    });
    await plog('DATA', 2, 21); // after the end sync: not in the DSIM
    await pub.publish({ type: 'PlogSync', dbid: DBID, lsn: 20, syncId: 's.end' });
    const completed = await events.waitFor<MessageOfType<'DsimCompleted'>>((m) => m.type === 'DsimCompleted' && m.correlationId === 's1');
    expect(completed).toMatchObject({ dsid, startLsn: 10, endLsn: 20, blocks: 3 });

    // unload: a sequential delta data set carrying the online save's DSID
    await pub.publish({ type: 'DsimUnloadRequested', correlationId: 'u1', dbid: DBID, destination: { kind: 'directory', name: 'dsim-1' } });
    const unloaded = await events.waitFor<MessageOfType<'DsimUnloaded'>>((m) => m.type === 'DsimUnloaded' && m.correlationId === 'u1');
    expect(unloaded).toMatchObject({ dsid, blocks: 3, location: { kind: 'directory', name: 'dsim-1' } });
    const r = await DataSetReader.open(path.join(dataDir, 'datasets', 'dsim-1'));
    const got: string[] = [];
    for await (const b of r) {
      const lsn = ({ 'ASSO:30': 13, 'DATA:1': 14, 'DATA:2': 12 } as Record<string, number>)[`${b.area}:${b.rabn}`];
      expect(Buffer.from(b.image).equals(image(b.area, lsn ?? -1))).toBe(true);
      got.push(`${b.area}:${b.rabn}`);
    }
    await r.close();
    expect(got).toEqual(['ASSO:30', 'DATA:1', 'DATA:2']);
    expect(r.header).toMatchObject({ kind: 'unloaded-dsim', dsid, startLsn: 10, endLsn: 20 });

    // now free: a second unload is refused with the reason
    await pub.publish({ type: 'DsimUnloadRequested', correlationId: 'u2', dbid: DBID, destination: { kind: 'directory', name: 'dsim-2' } });
    expect(await events.waitFor((m) => m.type === 'CommandRejected' && m.correlationId === 'u2')).toMatchObject({ code: 'DSIM_FREE' });
  });

  it('refuses to unload a DSIM still collecting; a reset frees it; a failed save resets its DSIM', async () => {
    const d2 = { ...dsid, deltaFrom: 1, deltaTo: 1, timestamp: dsid.timestamp + 1 };
    await pub.publish({ type: 'SaveStarted', correlationId: 's2', dbid: DBID, dsid: d2, kind: 'delta', online: true, startLsn: 30, occurredAt: 3 });
    // dsf.events and dsf.commands are different topics: no order between them, so wait for the acquisition
    await events.waitFor((m) => m.type === 'DsimAcquired' && m.correlationId === 's2');
    await pub.publish({ type: 'DsimUnloadRequested', correlationId: 'u3', dbid: DBID, destination: { kind: 'directory', name: 'dsim-3' } });
    expect(await events.waitFor((m) => m.type === 'CommandRejected' && m.correlationId === 'u3')).toMatchObject({ code: 'DSIM_NOT_COMPLETE' });
    await pub.publish({ type: 'SaveFailed', correlationId: 's2', dbid: DBID, dsid: d2, code: 'WRITER_RESTARTED', reason: 'x', occurredAt: 4 });
    expect(await events.waitFor((m) => m.type === 'DsimReset' && m.correlationId === 's2')).toMatchObject({ dsid: d2 });
  });

  it('one authority on the DSIM: a second online save is refused (DsimRejected), a complete DSIM is not reset without --force, a snapshot copies it for a merge, and a merge that used it frees it', async () => {
    const d3 = { ...dsid, deltaFrom: 2, deltaTo: 2, timestamp: dsid.timestamp + 2 };
    await pub.publish({ type: 'SaveStarted', correlationId: 's3', dbid: DBID, dsid: d3, kind: 'delta', online: true, startLsn: 40, occurredAt: 5 });
    await events.waitFor((m) => m.type === 'DsimAcquired' && m.correlationId === 's3');
    const d4 = { ...d3, deltaFrom: 3, deltaTo: 3, timestamp: d3.timestamp + 1 };
    await pub.publish({ type: 'SaveStarted', correlationId: 's4', dbid: DBID, dsid: d4, kind: 'delta', online: true, startLsn: 41, occurredAt: 6 });
    expect(await events.waitFor((m) => m.type === 'DsimRejected' && m.correlationId === 's4')).toMatchObject({ code: 'DSIM_IN_USE' });
    // while s3 collects, a reset without --force is refused
    await pub.publish({ type: 'DsimResetRequested', correlationId: 'r1', dbid: DBID });
    expect(await events.waitFor((m) => m.type === 'CommandRejected' && m.correlationId === 'r1')).toMatchObject({ code: 'DSIM_IN_USE' });
    await plog('DATA', 5, 42);
    await pub.publish({ type: 'SaveCompleted', correlationId: 's3', dbid: DBID, dsid: d3, kind: 'delta', online: true, startLsn: 40, endLsn: 45, location: { kind: 'directory', name: 'd3' }, blocks: 1, bytes: 1, digest: '00000000', occurredAt: 7 });
    await pub.publish({ type: 'PlogSync', dbid: DBID, lsn: 45, syncId: 's3.end' });
    await events.waitFor((m) => m.type === 'DsimCompleted' && m.correlationId === 's3');
    // complete and never unloaded: resetting it would orphan save 1/2
    await pub.publish({ type: 'DsimResetRequested', correlationId: 'r2', dbid: DBID });
    expect(await events.waitFor((m) => m.type === 'CommandRejected' && m.correlationId === 'r2')).toMatchObject({ code: 'DSIM_NOT_UNLOADED', reason: expect.stringMatching(/--force/) });
    // a merge reads it where it lives: a snapshot, and the DSIM stays in use
    await pub.publish({ type: 'DsimSnapshotRequested', correlationId: 'snap', dbid: DBID, destination: 'snap-1' });
    expect(await events.waitFor((m) => m.type === 'DsimSnapshotted' && m.correlationId === 'snap')).toMatchObject({ dsid: d3, blocks: 1 });
    const head = (await DataSetReader.open(path.join(dataDir, 'datasets', 'snap-1'))).header;
    expect(head).toMatchObject({ kind: 'original-dsim', dsid: d3, startLsn: 40, endLsn: 45 });
    await pub.publish({ type: 'MergeCompleted', correlationId: 'm1', dbid: DBID, dsid: d3, kind: 'delta', inputs: ['d3', '@dsim'], location: { kind: 'directory', name: 'm1' }, blocks: 1, digest: '00000000', releasedDsid: d3, occurredAt: 8 });
    expect(await events.waitFor((m) => m.type === 'DsimReleased' && m.correlationId === 'm1')).toMatchObject({ dsid: d3 });
  });

  it('reads a gained partition from its PostgreSQL checkpoint when Kafka\'s committed offset is ahead of it (PostgreSQL lost commits)', async () => {
    await builder.stop();
    // a command the builder never applied, and the group's committed offsets moved past it (as
    // when PostgreSQL lost the commits that had applied it while Kafka kept the offsets)
    await pub.publish({ type: 'DsimResetRequested', correlationId: 'behind-kafka', dbid: DBID });
    const admin = createKafka({ clientId: 'dsim-int-admin', brokers: kafka.brokers }).admin();
    await admin.connect();
    try {
      for (const topic of ['dsf.commands', 'dsf.events', 'dsf.plog']) {
        const ends = await admin.fetchTopicOffsets(topic);
        await admin.setOffsets({ groupId: 'deltaflow.dsim-builder', topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
      }
    } finally {
      await admin.disconnect();
    }
    builder = await start();
    const reset = await events.waitFor((m) => m.type === 'DsimReset' && m.correlationId === 'behind-kafka', 30_000, 'the reset Kafka\'s offsets had passed');
    expect(reset).toMatchObject({ type: 'DsimReset', dbid: DBID });
  });

  it('is idempotent: replaying every topic from offset 0 changes nothing and publishes nothing again', async () => {
    await builder.stop();
    const before = events.messages.length;
    builder = await start('deltaflow.dsim-builder.replay'); // a new group reads from offset 0; the checkpoints skip it all
    await pub.publish({ type: 'DsimResetRequested', correlationId: 'marker', dbid: DBID });
    await events.waitFor((m) => m.type === 'DsimReset' && m.correlationId === 'marker');
    expect(events.messages.slice(before).map((m) => m.type)).toEqual(['DsimReset']);
  });
});
