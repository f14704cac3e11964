/**
 * infra/docker/kafka-topics.ts: which topics, how many partitions, which retention; run
 * against Deltaflow's embedded broker (topics and partitions are real there; it keeps no
 * topic configs, so the config path runs against a recording fake of describe/alter).
 */
import { ALL_TOPICS, dlqTopic } from '@deltaflow/contracts';
import { testKafka, type TestKafka } from '@deltaflow/testing';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import {
  DEFAULT_BULK_RETENTION_MS,
  TOPIC_RETENTION,
  configUpdate,
  planTopics,
  provisionTopics,
  settingsFromEnv,
  topicSpecs,
  type TopicSettings,
} from '../../infra/docker/kafka-topics';

const settings: TopicSettings = { partitions: 12, bulkRetentionMs: DEFAULT_BULK_RETENTION_MS };

describe('kafka-topics: settings and specs', () => {
  it('reads the environment, with 12 partitions and 7 days of bulk retention by default', () => {
    expect(settingsFromEnv({})).toEqual({ partitions: 12, bulkRetentionMs: 604_800_000 });
    expect(settingsFromEnv({ DELTAFLOW_TOPIC_PARTITIONS: '24', DELTAFLOW_TOPIC_REPLICATION: '3', DELTAFLOW_TOPIC_MIN_INSYNC_REPLICAS: '2', DELTAFLOW_BULK_RETENTION_MS: '-1' })).toEqual({
      partitions: 24,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      bulkRetentionMs: -1,
    });
    expect(() => settingsFromEnv({ DELTAFLOW_TOPIC_PARTITIONS: '0' })).toThrow(/DELTAFLOW_TOPIC_PARTITIONS: expected an integer >= 1/);
    expect(() => settingsFromEnv({ DELTAFLOW_BULK_RETENTION_MS: '0' })).toThrow(/would delete data at once/);
    expect(() => settingsFromEnv({ DELTAFLOW_BULK_RETENTION_MS: '7d' })).toThrow(/expected an integer/);
    expect(() => settingsFromEnv({ DELTAFLOW_TOPIC_REPLICATION: '1', DELTAFLOW_TOPIC_MIN_INSYNC_REPLICAS: '2' })).toThrow(/exceeds/);
  });

  it('covers every topic of libs/contracts and its dead-letter topic', () => {
    expect(Object.keys(TOPIC_RETENTION).sort()).toEqual([...ALL_TOPICS].sort());
    expect(topicSpecs(settings).map((s) => s.topic).sort()).toEqual(ALL_TOPICS.flatMap((t) => [t, dlqTopic(t)]).sort());
  });

  it('keeps the record forever (events, DLOG, commands, dead letters) and bounds only the bulk topics', () => {
    const specs = new Map(topicSpecs(settings).map((s) => [s.topic, s]));
    for (const t of ['dsf.events', 'sov.events', 'dsf.dlog', 'dsf.commands', 'sov.commands', 'nucleus.commands', 'dsf.block-changes.dlq', 'dsf.events.dlq']) {
      expect(specs.get(t)?.configs).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' });
    }
    for (const t of ['dsf.block-changes', 'dsf.plog', 'sov.superblocks']) {
      expect(specs.get(t)?.configs).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '604800000', 'retention.bytes': '-1', 'segment.ms': '86400000', 'segment.bytes': '16777216' });
    }
    const keepAll = new Map(topicSpecs({ ...settings, bulkRetentionMs: -1, minInsyncReplicas: 2 }).map((s) => [s.topic, s]));
    expect(keepAll.get('sov.superblocks')?.configs).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.bytes': '16777216', 'min.insync.replicas': '2' });
  });

  it('groups topics by partition key: dsf.* and nucleus.* by database, sov.* by stream', () => {
    for (const s of topicSpecs(settings)) expect(s.family).toBe(s.topic.startsWith('sov.') ? 'stream' : 'dbid');
  });
});

describe('kafka-topics: plan', () => {
  const specs = topicSpecs(settings);

  it('creates everything with the configured count on an empty cluster', () => {
    const plan = planTopics(specs, new Map(), settings);
    expect(plan.problems).toEqual([]);
    expect(plan.create).toHaveLength(20);
    expect(new Set(plan.create.map((c) => c.numPartitions))).toEqual(new Set([12]));
  });

  it("gives a family's new topics its existing count, and says so when that is not the setting", () => {
    const plan = planTopics(specs, new Map([['dsf.events', 6], ['dsf.dlog', 6]]), settings);
    expect(plan.problems).toEqual([]);
    expect(plan.create.find((c) => c.spec.topic === 'dsf.block-changes')?.numPartitions).toBe(6);
    expect(plan.create.find((c) => c.spec.topic === 'sov.events')?.numPartitions).toBe(12);
    expect(plan.warnings).toEqual([expect.stringMatching(/keyed by dbid exist with 6 partitions, not DELTAFLOW_TOPIC_PARTITIONS=12/)]);
    expect(plan.existing.map((s) => s.topic).sort()).toEqual(['dsf.dlog', 'dsf.events']);
  });

  it('refuses a family whose topics disagree (co-partitioning would break)', () => {
    const plan = planTopics(specs, new Map([['dsf.events', 12], ['dsf.block-changes', 1]]), settings);
    expect(plan.problems).toEqual([expect.stringMatching(/keyed by dbid have different partition counts \(dsf\.block-changes=1, dsf\.events=12\)/)]);
  });

  it("changes a topic's configs only when one of ours differs, keeping what an operator set beside them", () => {
    const spec = specs.find((s) => s.topic === 'dsf.events')!;
    const right = new Map(Object.entries(spec.configs).map(([k, v]) => [k, { value: v, dynamic: true }]));
    expect(configUpdate(spec, right)).toBeUndefined();
    const wrong = new Map([
      ['retention.ms', { value: '604800000', dynamic: false }],
      ['max.message.bytes', { value: '2097152', dynamic: true }],
      ['segment.bytes', { value: '1073741824', dynamic: false }],
    ]);
    expect(configUpdate(spec, wrong)).toEqual({ 'max.message.bytes': '2097152', ...spec.configs });
  });
});

describe('kafka-topics: against the embedded broker', () => {
  let kafka: TestKafka;
  let admin: Admin;
  beforeAll(async () => {
    kafka = await testKafka({ numPartitions: 1 });
    admin = new Kafka({ clientId: 'kafka-topics-spec', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
    await kafka?.stop();
  });

  // the broker's topics are real; topic configs live in this map (the embedded broker has none)
  const configs = new Map<string, Map<string, string>>();
  const altered: string[] = [];
  const withConfigs = (): Parameters<typeof provisionTopics>[0] => ({
    listTopics: () => admin.listTopics(),
    fetchTopicMetadata: (o) => admin.fetchTopicMetadata(o),
    createTopics: async (o) => {
      for (const t of o.topics) configs.set(t.topic, new Map((t.configEntries ?? []).map((e) => [e.name, e.value])));
      return admin.createTopics(o);
    },
    describeConfigs: async (o) => ({
      throttleTime: 0,
      resources: o.resources.map((r) => ({
        resourceName: r.name,
        resourceType: r.type,
        errorCode: 0,
        errorMessage: '',
        configEntries: [...(configs.get(r.name) ?? new Map())].map(([configName, configValue]) => ({ configName, configValue, configSource: 1, isDefault: false, isSensitive: false, readOnly: false, configSynonyms: [] })),
      })),
    }),
    alterConfigs: async (o) => {
      for (const r of o.resources) {
        altered.push(r.name);
        configs.set(r.name, new Map(r.configEntries.map((e) => [e.name, e.value])));
      }
    },
  });

  it('creates every topic with 12 partitions although the broker default is 1', async () => {
    const logs: string[] = [];
    const r = await provisionTopics(withConfigs(), settings, { log: (m) => logs.push(m) });
    expect(r.created.sort()).toEqual(ALL_TOPICS.flatMap((t) => [t, dlqTopic(t)]).sort());
    expect(r.altered).toEqual([]);
    const md = await admin.fetchTopicMetadata({ topics: r.created });
    expect(new Set(md.topics.map((t) => t.partitions.length))).toEqual(new Set([12]));
    expect(configs.get('dsf.events')?.get('retention.ms')).toBe('-1');
    expect(configs.get('dsf.block-changes')?.get('retention.ms')).toBe('604800000');
    expect(logs).toContain('create dsf.events: 12 partitions, record retention.ms=-1');
  });

  it('changes nothing the second time, and restores a retention someone changed', async () => {
    const again = await provisionTopics(withConfigs(), settings);
    expect(again).toMatchObject({ created: [], altered: [] });
    expect(again.unchanged).toHaveLength(20);
    configs.get('dsf.events')?.set('retention.ms', '86400000');
    const fixed = await provisionTopics(withConfigs(), settings);
    expect(fixed.altered).toEqual(['dsf.events']);
    expect(configs.get('dsf.events')?.get('retention.ms')).toBe('-1');
  });

  it('fails, changing nothing, when a topic was made with another count (a service started first)', async () => {
    await admin.deleteTopics({ topics: ['sov.commands.dlq'] });
    await admin.createTopics({ topics: [{ topic: 'sov.commands.dlq', numPartitions: 3 }], waitForLeaders: true });
    await expect(provisionTopics(withConfigs(), settings)).rejects.toThrow(/keyed by stream have different partition counts .*sov\.commands\.dlq=3/);
  });

  it('runs on the embedded broker as it is too: topics made, retention left to the broker', async () => {
    const other = await testKafka({ numPartitions: 1 });
    const plain = new Kafka({ clientId: 'kafka-topics-spec-plain', brokers: other.brokers, logLevel: logLevel.NOTHING }).admin();
    await plain.connect();
    try {
      const r = await provisionTopics(plain, settings);
      expect(r.created).toHaveLength(20);
      expect(r.warnings).toEqual([expect.stringMatching(/does not describe topic configs/)]);
    } finally {
      await plain.disconnect();
      await other.stop();
    }
  });

  it('only reports in a dry run', async () => {
    const other = await testKafka({ numPartitions: 1 });
    const plain = new Kafka({ clientId: 'kafka-topics-spec-dry', brokers: other.brokers, logLevel: logLevel.NOTHING }).admin();
    await plain.connect();
    try {
      const logs: string[] = [];
      const r = await provisionTopics(plain, settings, { dryRun: true, log: (m) => logs.push(m) });
      expect(r.created).toHaveLength(20);
      expect(logs.filter((l) => l.startsWith('would create'))).toHaveLength(20);
      expect(await plain.listTopics()).toEqual([]);
    } finally {
      await plain.disconnect();
      await other.stop();
    }
  });
});
