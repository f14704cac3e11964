/**
 * The dsf.block-changes retention on the embedded broker, with the real change logger: the topic
 * is cut (DeleteRecords) below what the change logger has logged, the nucleus state of deleted
 * records is still known from dsf.nucleus-state, and a consumer held back keeps the cut at its
 * committed offset (waiting, in the log and the metrics) until it reads on; dsf.dlog is cut below
 * the change logger's DLOG snapshots, and a restart rebuilds the same DLOG from them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometry } from '@deltaflow/blocks';
import { encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { dlogStateToJSON, liveBlocks } from '@deltaflow/dlog';
import { createKafka, readToEnd, TopicReader } from '@deltaflow/service-kit';
import { Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import { startChangeLogger, type RunningChangeLogger } from './app';
import { pollUntil } from '@deltaflow/testing';

jest.setTimeout(90_000);

let broker: EmbeddedKafka;
let root: string;
let admin: Admin;
let producer: Producer;
let svc: RunningChangeLogger;
let slow: Consumer | undefined;
let held = true;
const lines: string[] = [];
let lsn = 0;

const bc = (rabn: number): AnyMessage => ({ type: 'BlockChanged', dbid: 1, area: 'DATA', rabn, lsn: ++lsn, txn: 1, image: Buffer.alloc(4096, lsn % 250) });
async function send(messages: AnyMessage[]): Promise<void> {
  const rs = messages.map((m) => encodeMessage(m));
  await producer.send({ topic: rs[0].topic, acks: -1, messages: rs.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })) });
}
const offsets = async () => {
  const p = (await admin.fetchTopicOffsets(Topic.blockChanges))[0];
  return { low: Number(p.low), high: Number(p.high) };
};
/** bytes on disk of dsf.block-changes (its one partition) */
const partitionBytes = () =>
  fs
    .readdirSync(path.join(root, 'topics', Topic.blockChanges), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => pollUntil(what, f, { ms, detail: () => lines.slice(-40).join('\n') });
const metrics = async () => (await fetch(`${svc.httpUrl}/metrics`)).text();

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'block-changes-retention-'));
  broker = await startEmbeddedKafka({ dataDir: root, fsync: 'never', logLevel: 'silent' });
  admin = createKafka({ clientId: 'retention-test', brokers: broker.brokers }).admin();
  await admin.connect();
  // small segments, so a cut frees files on disk as the bulk topics' 16 MiB segments do under load
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: Topic.blockChanges, numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: String(64 * 1024) }] },
      ...[Topic.plog, Topic.dlog, Topic.dsfEvents, Topic.nucleusState].map((topic) => ({ topic, numPartitions: 1 })),
    ],
  });
  producer = createKafka({ clientId: 'retention-test-upstream', brokers: broker.brokers }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  svc = await startLogger();
});

const startLogger = () =>
  startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry: sampleGeometry() }], groupId: 'cl', httpPort: 0, retentionIntervalMs: 200, dlogSnapshotEvery: 10, log: (m) => lines.push(m) });

afterAll(async () => {
  held = false;
  await slow?.disconnect();
  await svc?.stop();
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

it('cuts dsf.block-changes below what the change logger logged; the nucleus state of the deleted records stays known', async () => {
  await send([{ type: 'NucleusState', dbid: 1, lsn: ++lsn, active: true, at: 1 }]);
  for (let i = 0; i < 10; i++) await send(Array.from({ length: 10 }, (_, j) => bc(20 + ((i * 10 + j) % 700))));
  await send([{ type: 'NucleusState', dbid: 1, lsn: ++lsn, active: false, at: 2 }]);
  const stoppedAt = lsn;
  await send([bc(11), bc(12)]);
  const { high } = await offsets();
  const bytesBefore = partitionBytes();
  expect(bytesBefore).toBeGreaterThan(100 * 4096);

  await until('the cut at the end of what was logged', async () => ((await offsets()).low === high ? true : undefined));
  expect(lines.some((l) => l.includes(`dsf.block-changes[0] truncated below offset ${high}`))).toBe(true);
  // whole segments below the cut are gone from disk
  expect(partitionBytes()).toBeLessThan(bytesBefore / 4);

  // the NucleusState records are gone from dsf.block-changes, their state is on dsf.nucleus-state (as the save writer and the merge engine read it)
  const nucleus = new Map<number, { active: boolean; lsn: number }>();
  const seen: string[] = [];
  const reader = new TopicReader<TopicMessage<'dsf.block-changes'> | TopicMessage<'dsf.nucleus-state'>>({
    brokers: broker.brokers,
    clientId: 'retention-test-reader',
    topics: [Topic.blockChanges, Topic.nucleusState],
    until: 'end',
    onMessage: (m) => {
      seen.push(m.type);
      if ((m.type === 'NucleusState' || m.type === 'NucleusStateRecorded') && (nucleus.get(m.dbid)?.lsn ?? -1) <= m.lsn) nucleus.set(m.dbid, { active: m.active, lsn: m.lsn });
    },
  });
  await reader.start();
  await reader.caughtUp;
  await reader.stop();
  expect(seen).toEqual(['NucleusStateRecorded', 'NucleusStateRecorded']);
  expect(nucleus.get(1)).toEqual({ active: false, lsn: stoppedAt });
});

it('waits for a consumer held back, says so in the log and the metrics, and cuts once it read on', async () => {
  const base = (await offsets()).high;
  let committed = -1;
  slow = createKafka({ clientId: 'slow-reader', brokers: broker.brokers }).consumer({ groupId: 'slow-reader', maxWaitTimeInMs: 100 });
  await slow.connect();
  const c = slow;
  await slow.subscribe({ topics: [Topic.blockChanges], fromBeginning: true });
  await slow.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, resolveOffset }) => {
      // reads and commits the first record it gets, then stalls (heartbeating) while held
      if (committed < 0) {
        const first = batch.messages[0];
        committed = Number(first.offset) + 1;
        resolveOffset(first.offset);
        await c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(committed) }]);
        while (held && isRunning()) {
          await heartbeat();
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const last = batch.messages[batch.messages.length - 1];
      resolveOffset(last.offset);
      await c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
    },
  });
  for (let i = 0; i < 5; i++) await send(Array.from({ length: 10 }, (_, j) => bc(30 + i * 10 + j)));
  const { high } = await offsets();
  await until('the slow reader committed its first record', async () => (committed > 0 ? true : undefined));
  expect(committed).toBe(base + 1);

  // the change logger logs everything, the retention cuts only up to the slow reader
  await until('retention waiting for the slow reader', async () => {
    const d = svc.retention!.decisions().get(0);
    return d?.secured === high && d.waiting.some((w) => w.holder === 'group slow-reader') ? d : undefined;
  });
  expect((await offsets()).low).toBe(committed);
  const m = await metrics();
  expect(m).toContain(`deltaflow_block_changes_retention_waiting{partition="0",holder="group slow-reader"} ${high - committed}`);
  expect(m).toContain(`deltaflow_block_changes_log_start_offset{partition="0"} ${committed}`);
  // said once when it starts waiting (the numbers then are what the change logger had logged by that pass)
  expect(lines.filter((l) => new RegExp(`keeps dsf.block-changes\\[0\\] from offset \\d+: reader slow-reader is at offset ${committed}, \\d+ record\\(s\\) behind what is secured`).test(l))).toHaveLength(1);
  // it stays there while the reader is held
  await new Promise((r) => setTimeout(r, 1000));
  expect((await offsets()).low).toBe(committed);

  held = false;
  await until('the cut after the slow reader read on', async () => ((await offsets()).low === high ? true : undefined));
  expect(await metrics()).not.toContain('holder="group slow-reader"');
  await slow.disconnect();
  slow = undefined;
});

it('snapshots the DLOG on dsf.dlog, cuts dsf.dlog below the snapshots, and a restart rebuilds the same DLOG from them', async () => {
  for (let i = 0; i < 50; i++) {
    await send([bc(100 + i), ...(i % 10 === 9 ? [{ type: 'EtSync', dbid: 1, lsn: ++lsn, syncId: `s${i}` } as AnyMessage] : [])]);
  }
  const dlogLow = async () => Number((await admin.fetchTopicOffsets(Topic.dlog))[0].low);
  await until('dsf.dlog cut below a round of snapshots', async () => ((await dlogLow()) > 0 && svc.changeLog.lastLsn(1) === lsn ? true : undefined));
  const low = await dlogLow();
  expect(lines.some((l) => l.includes(`DLOG retention: dsf.dlog[0] truncated below offset ${low}`))).toBe(true);
  // the log now starts with the snapshot
  const first: string[] = [];
  await readToEnd<TopicMessage<'dsf.dlog'>>({ brokers: broker.brokers, clientId: 'retention-test-dlog', topics: [Topic.dlog], onMessage: (m) => void first.push(m.type) });
  expect(first[0]).toBe('DlogSnapshotted');
  expect(first.length).toBeLessThan(60);

  const before = JSON.stringify(dlogStateToJSON(svc.changeLog.state(1)!));
  await svc.stop();
  svc = await startLogger();
  expect(lines.some((l) => /DLOG of partitions 0 rebuilt from \d+ dsf.dlog records/.test(l))).toBe(true);
  expect(JSON.stringify(dlogStateToJSON(svc.changeLog.state(1)!))).toBe(before);
  expect(svc.changeLog.lastLsn(1)).toBe(lsn);
  // and it goes on logging from there
  await send([bc(700)]);
  await until('the next change', async () => (svc.changeLog.lastLsn(1) === lsn ? true : undefined));
  expect([...liveBlocks(svc.changeLog.state(1)!).DATA]).toContain(700);
});

it('a leftover empty group holds nothing, and is waited for again as soon as it has a member that lags', async () => {
  // a reader that read the topic once and left (a test, a `dsf` invocation with a fresh group)
  const join = async (hold: () => boolean) => {
    const c = createKafka({ clientId: 'leftover', brokers: broker.brokers }).consumer({ groupId: 'leftover', maxWaitTimeInMs: 100 });
    const joined = new Promise<void>((res) => c.on(c.events.GROUP_JOIN, () => res()));
    await c.connect();
    await c.subscribe({ topics: [Topic.blockChanges], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ heartbeat, isRunning }) => {
        while (hold() && isRunning()) {
          await heartbeat();
          await new Promise((r) => setTimeout(r, 200));
        }
      },
    });
    await joined;
    return c;
  };
  const first = await join(() => false);
  await first.commitOffsets([{ topic: Topic.blockChanges, partition: 0, offset: String((await offsets()).low) }]);
  await first.disconnect();
  await send(Array.from({ length: 10 }, (_, j) => bc(300 + j)));
  const { high } = await offsets();
  await until('the cut past the leftover group', async () => ((await offsets()).low === high ? true : undefined));
  expect(svc.retention!.decisions().get(0)!.waiting).toEqual([]);

  // the same group gets a member again, which stalls: the cut waits for it
  let holding = true;
  const again = await join(() => holding);
  try {
    await send(Array.from({ length: 10 }, (_, j) => bc(320 + j)));
    const next = (await offsets()).high;
    await until('retention waiting for the group back', async () => {
      const d = svc.retention!.decisions().get(0);
      return d?.secured === next && d.waiting.some((w) => w.holder === 'group leftover') ? true : undefined;
    });
    expect((await offsets()).low).toBe(high);
  } finally {
    holding = false;
    await again.disconnect();
  }
});
