import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, eventually, uniqueName } from './kafka-helpers';

const ROOT = path.resolve(__dirname, '../..');

interface Member {
  readonly child: ChildProcess;
  readonly assignments: number[][];
  readonly seen: string[];
  exited: boolean;
}

function spawnMember(brokers: string[], topic: string, group: string): Member {
  const child = spawn(process.execPath, [path.join(ROOT, 'infra/launcher/bin/run-ts.js'), 'test/kafka-conformance/fixtures/group-member.ts'], {
    cwd: ROOT,
    env: { ...process.env, BROKERS: brokers.join(','), TOPIC: topic, GROUP: group, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const m: Member = { child, assignments: [], seen: [], exited: false };
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const e = JSON.parse(line) as { event: string; partitions?: number[]; v?: string };
      if (e.event === 'assigned') m.assignments.push(e.partitions!);
      if (e.event === 'msg') m.seen.push(e.v!);
    }
  });
  child.once('exit', () => (m.exited = true));
  return m;
}

const last = (m: Member) => m.assignments[m.assignments.length - 1] ?? [];

describe('consumer group across processes (embedded broker)', () => {
  let kafka: EmbeddedKafka;
  let dir: string;
  const members: Member[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-group-'));
    kafka = await startEmbeddedKafka({ dataDir: dir });
  });
  afterAll(async () => {
    for (const m of members) if (!m.exited) m.child.kill('SIGKILL');
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rebalances when a member joins, leaves and is killed, and loses no message', async () => {
    const topic = uniqueName('procs');
    const group = uniqueName('g');
    const k = client(kafka.brokers);
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    await admin.disconnect();
    const producer = k.producer();
    await producer.connect();
    const produced: string[] = [];
    const produce = async (batch: string) => {
      const messages = Array.from({ length: 40 }, (_, i) => ({ key: `${batch}-${i}`, value: `${batch}-${i}` }));
      await producer.send({ topic, acks: -1, messages });
      produced.push(...messages.map((m) => m.value));
    };
    const seenByAll = () => new Set(members.flatMap((m) => m.seen));
    const allSeen = (what: string) => eventually(async () => produced.every((v) => seenByAll().has(v)), 30000, what);

    await produce('b1');
    const a = spawnMember(kafka.brokers, topic, group);
    members.push(a);
    await eventually(async () => last(a).length === 4, 30000, 'A owning all partitions');
    await allSeen('batch 1 consumed by A');

    const b = spawnMember(kafka.brokers, topic, group);
    members.push(b);
    await eventually(async () => last(b).length > 0 && last(a).length > 0 && last(a).length + last(b).length === 4, 30000, 'A and B sharing');
    await produce('b2');
    await allSeen('batch 2 consumed by A and B');
    expect(b.seen.length).toBeGreaterThan(0);

    b.child.kill('SIGTERM'); // leaves the group
    await eventually(async () => b.exited, 15000, 'B to exit');
    await eventually(async () => last(a).length === 4, 30000, 'A taking back all partitions after B left');
    await produce('b3');
    await allSeen('batch 3 consumed');

    const c = spawnMember(kafka.brokers, topic, group);
    members.push(c);
    await eventually(async () => last(c).length > 0 && last(a).length < 4, 30000, 'A and C sharing');
    c.child.kill('SIGKILL'); // no LeaveGroup: the session timeout must remove C
    await eventually(async () => c.exited, 15000, 'C to die');
    await produce('b4');
    await eventually(async () => last(a).length === 4, 30000, 'A owning all partitions after C expired');
    await allSeen('batch 4 consumed after C expired');

    expect(a.assignments.length).toBeGreaterThanOrEqual(5);
    for (const v of produced) expect(seenByAll().has(v)).toBe(true);
    await producer.disconnect();
    a.child.kill('SIGTERM');
    await eventually(async () => a.exited, 15000, 'A to exit');
  }, 150_000);
});
