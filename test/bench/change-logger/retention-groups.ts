/**
 * Retention pass cost with leftover empty consumer groups: a change logger on the embedded broker,
 * N consumer groups that read dsf.block-changes once and left (tests, `dsf` invocations with a
 * fresh group), and the time of one retention pass (dsf.dlog and dsf.block-changes), the median of
 * PASSES. The ceiling is the same pass with no leftover group, measured first in the same run.
 * Run: node infra/launcher/bin/run-ts.js test/bench/change-logger/retention-groups.ts [N] [PASSES]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometry } from '@deltaflow/blocks';
import { encodeMessage, Topic } from '@deltaflow/contracts';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { createKafka } from '@deltaflow/service-kit';
import { Partitioners } from 'kafkajs';
import { startChangeLogger } from '../../../apps/change-logger/src/app';
import { record } from '../report';

const N = Number(process.argv[2] ?? 300);
const PASSES = Number(process.argv[3] ?? 7);

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-retention-groups-'));
  const broker = await startEmbeddedKafka({ dataDir: root, fsync: 'never', logLevel: 'silent' });
  const kafka = createKafka({ clientId: 'bench', brokers: broker.brokers });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [Topic.blockChanges, Topic.plog, Topic.dlog, Topic.dsfEvents, Topic.nucleusState].map((topic) => ({ topic, numPartitions: 1 })) });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const r = encodeMessage({ type: 'BlockChanged', dbid: 1, area: 'DATA', rabn: 20, lsn: 1, txn: 1, image: Buffer.alloc(4096, 1) });
  await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
  const svc = await startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry: sampleGeometry() }], groupId: 'cl', httpPort: 0, retentionIntervalMs: 3_600_000, dlogSnapshotEvery: 1_000_000 });
  const retention = svc.retention!;
  await retention.runOnce();

  const timed = async () => {
    const ms: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      const t0 = process.hrtime.bigint();
      await retention.runOnce();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    return ms[Math.floor(ms.length / 2)];
  };
  const ceiling = await timed();

  // N groups that consumed dsf.block-changes and left: Empty, with committed offsets
  const t0 = Date.now();
  for (let i = 0; i < N; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, N - i) }, async (_, j) => {
        const groupId = `leftover-${i + j}`;
        const c = kafka.consumer({ groupId, maxWaitTimeInMs: 50, rebalanceTimeout: 1000, sessionTimeout: 6000 });
        await c.connect();
        await c.subscribe({ topics: [Topic.blockChanges], fromBeginning: true });
        const joined = new Promise<void>((res) => c.on(c.events.GROUP_JOIN, () => res()));
        await c.run({ eachMessage: async () => undefined });
        await joined;
        // what a reader leaves behind: its committed offset (the retention cuts what it read anyway)
        const { high } = (await admin.fetchTopicOffsets(Topic.blockChanges))[0];
        await c.commitOffsets([{ topic: Topic.blockChanges, partition: 0, offset: high }]);
        await c.disconnect();
      }),
    );
  }
  const listed = (await admin.listGroups()).groups.length;
  console.log(`${N} leftover groups made in ${((Date.now() - t0) / 1000).toFixed(1)} s (${listed} groups listed)`);

  const passMs = await timed();
  console.log(`retention pass, median of ${PASSES}: ${passMs.toFixed(1)} ms with ${N} leftover empty groups; ${ceiling.toFixed(1)} ms with none (ceiling)`);
  record({ bench: 'change-logger', figure: `retention pass with ${N} leftover empty groups`, value: passMs, unit: 'ms', lowerIsBetter: true, ceiling: { name: 'same pass, no leftover group', value: ceiling } });

  await svc.stop();
  await producer.disconnect();
  await admin.disconnect();
  await broker.stop();
  fs.rmSync(root, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
