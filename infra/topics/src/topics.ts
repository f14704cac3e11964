/**
 * Deltaflow's Kafka topics: creates them before the services start, all with one partition count
 * and each with the retention its content needs, and brings existing topics' retention in
 * line. Idempotent: run it at every start (Compose's one-shot `kafka-topics` service, an init
 * container of every Kubernetes workload).
 *
 * Used by `npm start` (the launcher) and, as a program, by deployments:
 *   KAFKA_BROKERS=kafka:9092 node infra/launcher/bin/run-ts.js infra/docker/kafka-topics.ts [--dry-run]
 *   (in the image: SERVICE=kafka-topics)
 *
 * Environment:
 *   DELTAFLOW_TOPIC_PARTITIONS        partitions of every topic (default 12). Every topic is keyed
 *                                     by database id (dsf.*, nucleus.*) or stream name (sov.*), and
 *                                     a service reading two topics of a family needs the same
 *                                     database's partitions of both in one member (co-partitioned
 *                                     groups), so a family's topics must have equal counts. The
 *                                     count bounds the useful replicas of a service; it cannot
 *                                     shrink, and growing it moves keys between partitions.
 *   DELTAFLOW_TOPIC_REPLICATION       replication factor (default: the broker's default).
 *   DELTAFLOW_TOPIC_MIN_INSYNC_REPLICAS  min.insync.replicas of every topic (default: broker's).
 *   DELTAFLOW_BULK_RETENTION_MS       retention of the bulk topics (default 604800000, 7 days;
 *                                     -1 keeps everything). See TOPIC_RETENTION.
 *
 * Topics that are the system's record (events, the DLOG, commands, dead letters) are kept
 * forever (retention.ms=-1): the services rebuild their state from them and an auditor
 * replays them. Bulk topics (block images, PLOG images, superblocks in transit) only carry
 * data to a consumer that stores it elsewhere (DLOG/PLOG, DSIMs in PostgreSQL, tape
 * volumes); they are kept DELTAFLOW_BULK_RETENTION_MS. A consumer stopped for longer than
 * that loses what expired: alert on consumer lag well before it.
 */
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { ALL_TOPICS, TOPICS, dlqTopic, type TopicName } from '@deltaflow/contracts';

export type RetentionClass = 'record' | 'bulk';

/** What each topic holds decides how long Kafka keeps it (a new topic must be placed here). */
export const TOPIC_RETENTION: Record<TopicName, RetentionClass> = {
  'dsf.block-changes': 'bulk', // raw block images from the nucleus: captured into the DLOG/PLOG and saves
  'dsf.dlog': 'record', // the DLOG as events: the change logger rebuilds its state from it
  'dsf.plog': 'bulk', // after-images feeding the DSIM builder; the DSIM itself is in PostgreSQL
  'dsf.nucleus-state': 'record', // the latest NucleusState per database, kept apart from the truncated dsf.block-changes
  'dsf.commands': 'record',
  'dsf.events': 'record', // the catalog's source of truth
  'nucleus.commands': 'record',
  'sov.superblocks': 'bulk', // backup data in transit to tape volumes
  'sov.commands': 'record', // stream definitions, devices, client files
  'sov.events': 'record', // placements, volumes: the catalog's source of truth
};

export interface TopicSettings {
  partitions: number;
  replicationFactor?: number;
  minInsyncReplicas?: number;
  bulkRetentionMs: number;
}

export interface TopicSpec {
  topic: string;
  /** the partition key: topics of one family must have equal partition counts */
  family: 'dbid' | 'stream';
  retention: RetentionClass;
  configs: Record<string, string>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_PARTITIONS = 12;
export const DEFAULT_BULK_RETENTION_MS = 7 * DAY_MS;
/** segment size of the bulk topics: the step in which a truncation frees disk */
export const BULK_SEGMENT_BYTES = 16 * 1024 * 1024;

function intFrom(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got "${raw}"`);
  return n;
}

/** Reads and validates the settings from the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): TopicSettings {
  const bulk = intFrom(env, 'DELTAFLOW_BULK_RETENTION_MS', -1);
  if (bulk === 0) throw new Error('DELTAFLOW_BULK_RETENTION_MS: 0 would delete data at once; give milliseconds, or -1 to keep everything');
  const replicationFactor = intFrom(env, 'DELTAFLOW_TOPIC_REPLICATION', 1);
  const minInsyncReplicas = intFrom(env, 'DELTAFLOW_TOPIC_MIN_INSYNC_REPLICAS', 1);
  if (replicationFactor !== undefined && minInsyncReplicas !== undefined && minInsyncReplicas > replicationFactor) {
    throw new Error(`DELTAFLOW_TOPIC_MIN_INSYNC_REPLICAS (${minInsyncReplicas}) exceeds DELTAFLOW_TOPIC_REPLICATION (${replicationFactor}): acks=all produces would fail`);
  }
  return {
    partitions: intFrom(env, 'DELTAFLOW_TOPIC_PARTITIONS', 1) ?? DEFAULT_PARTITIONS,
    ...(replicationFactor !== undefined ? { replicationFactor } : {}),
    ...(minInsyncReplicas !== undefined ? { minInsyncReplicas } : {}),
    bulkRetentionMs: bulk ?? DEFAULT_BULK_RETENTION_MS,
  };
}

/** Every topic of libs/contracts and its dead-letter topic, with the configs each must have. */
export function topicSpecs(settings: TopicSettings): TopicSpec[] {
  const configsOf = (retention: RetentionClass): Record<string, string> => {
    const c: Record<string, string> = { 'cleanup.policy': 'delete', 'retention.bytes': '-1' };
    if (retention === 'record' || settings.bulkRetentionMs < 0) {
      c['retention.ms'] = '-1';
    } else {
      c['retention.ms'] = String(settings.bulkRetentionMs);
      // roll segments at most daily, so that expiry (which drops whole segments) follows the
      // retention closely instead of up to a default week late
      c['segment.ms'] = String(Math.min(settings.bulkRetentionMs, DAY_MS));
    }
    // DeleteRecords (the PLOG retention) and expiry free whole segments: small ones for bulk data
    if (retention === 'bulk') c['segment.bytes'] = String(BULK_SEGMENT_BYTES);
    if (settings.minInsyncReplicas !== undefined) c['min.insync.replicas'] = String(settings.minInsyncReplicas);
    return c;
  };
  const specs: TopicSpec[] = [];
  for (const topic of ALL_TOPICS) {
    const family = TOPICS[topic].keyField === 'dbid' ? 'dbid' : 'stream';
    const retention = TOPIC_RETENTION[topic];
    if (!retention) throw new Error(`kafka-topics: topic ${topic} has no retention class in TOPIC_RETENTION`);
    specs.push({ topic, family, retention, configs: configsOf(retention) });
    specs.push({ topic: dlqTopic(topic), family, retention: 'record', configs: configsOf('record') });
  }
  return specs;
}

export interface TopicPlan {
  create: Array<{ spec: TopicSpec; numPartitions: number }>;
  existing: TopicSpec[];
  /** refusals: nothing is changed when there is one */
  problems: string[];
  warnings: string[];
}

/**
 * What to create, given the partition counts of the topics that exist. A family whose
 * existing topics disagree is refused; a family's new topics take its existing count (a
 * different DELTAFLOW_TOPIC_PARTITIONS is then only warned about: partitions are not moved).
 */
export function planTopics(specs: TopicSpec[], existingPartitions: ReadonlyMap<string, number>, settings: TopicSettings): TopicPlan {
  const plan: TopicPlan = { create: [], existing: [], problems: [], warnings: [] };
  const familyCount = new Map<string, number>();
  for (const family of ['dbid', 'stream'] as const) {
    const members = specs.filter((s) => s.family === family && existingPartitions.has(s.topic));
    const counts = new Set(members.map((s) => existingPartitions.get(s.topic)));
    if (counts.size > 1) {
      const list = members.map((s) => `${s.topic}=${existingPartitions.get(s.topic)}`).join(', ');
      plan.problems.push(
        `topics keyed by ${family} have different partition counts (${list}); co-partitioned consumers need them equal: ` +
          'recreate or grow the smaller ones (kafka-topics.sh --alter --partitions) before starting the services',
      );
    } else if (counts.size === 1) {
      const n = [...counts][0] as number;
      familyCount.set(family, n);
      if (n !== settings.partitions) {
        plan.warnings.push(`topics keyed by ${family} exist with ${n} partitions, not DELTAFLOW_TOPIC_PARTITIONS=${settings.partitions}: new ones get ${n} too`);
      }
    }
  }
  for (const spec of specs) {
    if (existingPartitions.has(spec.topic)) plan.existing.push(spec);
    else plan.create.push({ spec, numPartitions: familyCount.get(spec.family) ?? settings.partitions });
  }
  return plan;
}

/** The configs to send for a topic whose current dynamic configs are `current`, or undefined if it has ours. */
export function configUpdate(spec: TopicSpec, current: ReadonlyMap<string, { value: string; dynamic: boolean }>): Record<string, string> | undefined {
  const differs = Object.entries(spec.configs).some(([k, v]) => current.get(k)?.value !== v);
  if (!differs) return undefined;
  // AlterConfigs replaces a topic's whole dynamic config: keep what an operator set beside ours
  const merged: Record<string, string> = {};
  for (const [k, { value, dynamic }] of current) if (dynamic) merged[k] = value;
  return { ...merged, ...spec.configs };
}

export interface ProvisionResult {
  created: string[];
  altered: string[];
  unchanged: string[];
  warnings: string[];
}

type AdminLike = Pick<Admin, 'listTopics' | 'fetchTopicMetadata' | 'createTopics' | 'describeConfigs' | 'alterConfigs'>;

/** Creates the missing topics and aligns the configs of all of them (see the file comment). */
export async function provisionTopics(admin: AdminLike, settings: TopicSettings, opts: { dryRun?: boolean; log?: (m: string) => void } = {}): Promise<ProvisionResult> {
  const log = opts.log ?? (() => undefined);
  const specs = topicSpecs(settings);
  const names = new Set(await admin.listTopics());
  const present = specs.filter((s) => names.has(s.topic)).map((s) => s.topic);
  const existing = new Map<string, number>();
  if (present.length > 0) {
    for (const t of (await admin.fetchTopicMetadata({ topics: present })).topics) existing.set(t.name, t.partitions.length);
  }
  const plan = planTopics(specs, existing, settings);
  for (const w of plan.warnings) log(`warning: ${w}`);
  if (plan.problems.length > 0) throw new Error(plan.problems.join('; '));
  const result: ProvisionResult = { created: [], altered: [], unchanged: [], warnings: plan.warnings };

  if (plan.create.length > 0) {
    for (const c of plan.create) log(`${opts.dryRun ? 'would create' : 'create'} ${c.spec.topic}: ${c.numPartitions} partitions, ${c.spec.retention} retention.ms=${c.spec.configs['retention.ms']}`);
    if (!opts.dryRun) {
      // another process (a service, a second init container) may create some at the same time:
      // createTopics then reports them as existing, and their configs are aligned below
      await admin.createTopics({
        waitForLeaders: true,
        topics: plan.create.map(({ spec, numPartitions }) => ({
          topic: spec.topic,
          numPartitions,
          ...(settings.replicationFactor !== undefined ? { replicationFactor: settings.replicationFactor } : {}),
          configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    result.created = plan.create.map((c) => c.spec.topic);
  }

  const toCheck = opts.dryRun ? plan.existing : specs;
  if (toCheck.length > 0) {
    const described = await admin
      .describeConfigs({ includeSynonyms: false, resources: toCheck.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic })) })
      .catch((err: { name?: string; apiName?: string }) => {
        // Deltaflow's embedded broker (npm start) keeps every record and has no topic configs
        if (err?.name !== 'KafkaJSServerDoesNotSupportApiKey') throw err;
        result.warnings.push('the broker does not describe topic configs (embedded broker?): retention left as it is');
        log(`warning: ${result.warnings[result.warnings.length - 1]}`);
        return undefined;
      });
    if (!described) return finish();
    const byName = new Map(described.resources.map((r) => [r.resourceName, r]));
    const updates: Array<{ spec: TopicSpec; configs: Record<string, string> }> = [];
    for (const spec of toCheck) {
      const r = byName.get(spec.topic);
      if (!r || r.errorCode !== 0) throw new Error(`describe configs of ${spec.topic}: ${r ? `${r.errorCode} ${r.errorMessage}` : 'no answer'}`);
      // configSource 1 = a dynamic topic config (set on this topic, not inherited)
      const current = new Map(r.configEntries.map((e) => [e.configName, { value: e.configValue, dynamic: e.configSource === 1 }]));
      const configs = configUpdate(spec, current);
      if (configs) updates.push({ spec, configs });
      else if (!result.created.includes(spec.topic)) result.unchanged.push(spec.topic);
    }
    for (const u of updates) log(`${opts.dryRun ? 'would set' : 'set'} ${u.spec.topic}: ${Object.entries(u.spec.configs).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (updates.length > 0 && !opts.dryRun) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: updates.map((u) => ({ type: ConfigResourceTypes.TOPIC, name: u.spec.topic, configEntries: Object.entries(u.configs).map(([name, value]) => ({ name, value })) })),
      });
    }
    result.altered = updates.map((u) => u.spec.topic);
  }
  return finish();

  async function finish(): Promise<ProvisionResult> {
    if (opts.dryRun) return result;
    // a topic created meanwhile by someone else (a service starting early, with the broker's
    // default partition count) would break co-partitioning: check the result as a whole
    const after = new Map<string, number>();
    for (const t of (await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) })).topics) after.set(t.name, t.partitions.length);
    const check = planTopics(specs, after, settings);
    if (check.problems.length > 0) throw new Error(check.problems.join('; '));
    return result;
  }
}
