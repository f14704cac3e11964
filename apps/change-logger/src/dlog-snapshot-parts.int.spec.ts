/**
 * DLOG snapshots larger than a Kafka record, on the embedded broker with the real change logger: a
 * scattered DLOG whose snapshot is over 1 MiB (more than message.max.bytes) is snapshotted in
 * parts, dsf.dlog is cut below them, and a restart rebuilds the same DLOG from the parts; a
 * snapshot cut short by a crash (only some of its parts on the log) is ignored by the rebuild.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Geometry } from '@deltaflow/blocks';
import { encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { dlogStateToJSON, initialState, liveBlocks, splitDlogSnapshot } from '@deltaflow/dlog';
import { createKafka, readToEnd } from '@deltaflow/service-kit';
import { Partitioners, type Admin, type Producer } from 'kafkajs';
import { startChangeLogger, type RunningChangeLogger } from './app';
import { pollUntil } from '@deltaflow/testing';

jest.setTimeout(60_000);

const BLOCKS = 300_000;
const geometry: Geometry = {
  asso: { blockSize: 4096, blocks: 1024 },
  data: { blockSize: 4096, blocks: BLOCKS },
  maxFiles: 4,
  files: [{ file: 1, extents: [{ part: 'DATA', from: 1, to: BLOCKS }, { part: 'AC', from: 11, to: 100 }, { part: 'INDEX', from: 101, to: 1000 }] }],
};

let broker: EmbeddedKafka;
let root: string;
let admin: Admin;
let producer: Producer;
let svc: RunningChangeLogger | undefined;
const lines: string[] = [];

async function send(messages: AnyMessage[]): Promise<void> {
  const rs = messages.map((m) => encodeMessage(m));
  await producer.send({ topic: rs[0].topic, acks: -1, messages: rs.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })) });
}
const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => pollUntil(what, f, { ms, detail: () => lines.slice(-40).join('\n') });
const startLogger = () =>
  startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry }], groupId: 'cl', httpPort: 0, retentionIntervalMs: 200, dlogSnapshotEvery: 5, log: (m) => lines.push(m) });
const dlogRecords = async () => {
  const out: Array<TopicMessage<'dsf.dlog'>> = [];
  await readToEnd<TopicMessage<'dsf.dlog'>>({ brokers: broker.brokers, clientId: 'parts-test-dlog', topics: [Topic.dlog], onMessage: (m) => void out.push(m) });
  return out;
};

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'dlog-snapshot-parts-'));
  broker = await startEmbeddedKafka({ dataDir: root, fsync: 'never', logLevel: 'silent' });
  admin = createKafka({ clientId: 'parts-test', brokers: broker.brokers }).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [Topic.blockChanges, Topic.plog, Topic.dlog, Topic.dsfEvents, Topic.nucleusState].map((topic) => ({ topic, numPartitions: 1 })) });
  producer = createKafka({ clientId: 'parts-test-producer', brokers: broker.brokers }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await svc?.stop();
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

it('snapshots a DLOG over 1 MiB in parts, cuts dsf.dlog below them, and rebuilds the same DLOG from them after a restart, ignoring a snapshot cut short', async () => {
  // a scattered DLOG as the change logger recorded it: every other DATA block, 150,000 extents
  const PER = 10_000;
  let lsn = 0;
  for (let from = 1; from <= BLOCKS; from += 2 * PER) {
    const ranges = Array.from({ length: PER }, (_, i) => from + 2 * i)
      .filter((b) => b <= BLOCKS)
      .map((b) => ({ area: 'DATA' as const, from: b, to: b }));
    await send([{ type: 'DlogRecorded', dbid: 1, lsn: ++lsn, ranges, marks: [], occurredAt: 1 }]);
  }
  svc = await startLogger();
  expect(svc.changeLog.lastLsn(1)).toBe(lsn);
  const size = Buffer.byteLength(JSON.stringify(dlogStateToJSON(svc.changeLog.state(1)!)));
  expect(size).toBeGreaterThan(1024 * 1024);

  await until('dsf.dlog cut below a round of snapshots', async () => (Number((await admin.fetchTopicOffsets(Topic.dlog))[0].low) > 0 ? true : undefined));
  const records = await dlogRecords();
  const parts = records.filter((m): m is Extract<typeof m, { type: 'DlogSnapshotted' }> => m.type === 'DlogSnapshotted');
  // the log starts with part 0 of the round, every part below Kafka's 1 MiB, together the whole state
  expect(records[0]).toMatchObject({ type: 'DlogSnapshotted', part: 0 });
  expect(parts.length).toBe(parts[0].parts);
  expect(parts.length).toBeGreaterThanOrEqual(3);
  expect(parts.every((p) => p.snapshotId === parts[0].snapshotId && p.state.length < 1024 * 1024)).toBe(true);
  expect(parts.reduce((n, p) => n + p.state.length, 0)).toBe(size);

  // a crash while the next round was being published: only its first part is on the log
  const [first] = splitDlogSnapshot(initialState(1, geometry), 'crashed-round', 100);
  await send([{ type: 'DlogSnapshotted', dbid: 1, ...first, occurredAt: 2 }]);

  const before = JSON.stringify(dlogStateToJSON(svc.changeLog.state(1)!));
  await svc.stop();
  lines.length = 0;
  svc = await startLogger();
  expect(lines.some((l) => /DLOG snapshot crashed-round of database 1 ignored: 1 of its \d+ parts/.test(l))).toBe(true);
  expect(JSON.stringify(dlogStateToJSON(svc.changeLog.state(1)!))).toBe(before);
  expect(svc.changeLog.lastLsn(1)).toBe(lsn);
  // and it goes on logging from there
  await send([{ type: 'BlockChanged', dbid: 1, area: 'DATA', rabn: 2, lsn: ++lsn, txn: 1, image: Buffer.alloc(4096, 1) }]);
  await until('the next change', async () => (svc!.changeLog.lastLsn(1) === lsn ? true : undefined));
  expect([...liveBlocks(svc.changeLog.state(1)!).DATA].slice(0, 3)).toEqual([1, 2, 3]);
});
