/**
 * The topic provisioning program of deployments (Compose's one-shot `kafka-topics` service, an
 * init container of every Kubernetes workload); what it does is in @deltaflow/topics.
 *
 *   KAFKA_BROKERS=kafka:9092 node infra/launcher/bin/run-ts.js infra/docker/kafka-topics.ts [--dry-run]
 */
import * as path from 'node:path';
import { brokersFromEnv, createKafka } from '@deltaflow/service-kit';
import { provisionTopics, settingsFromEnv } from '@deltaflow/topics';

export * from '@deltaflow/topics';

async function main(): Promise<void> {
  const brokers = brokersFromEnv();
  const dryRun = process.argv.slice(2).includes('--dry-run');
  const settings = settingsFromEnv();
  const kafka = createKafka({ clientId: 'deltaflow-kafka-topics', brokers });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await provisionTopics(admin, settings, { dryRun, log: (m) => console.log(`kafka-topics: ${m}`) });
    console.log(
      `kafka-topics: ${dryRun ? 'dry run, nothing changed; ' : ''}${r.created.length} created, ${r.altered.length} reconfigured, ${r.unchanged.length} already right ` +
        `(partitions ${settings.partitions}, bulk retention ${settings.bulkRetentionMs < 0 ? 'unlimited' : `${settings.bulkRetentionMs} ms`})`,
    );
  } finally {
    await admin.disconnect();
  }
}

// run as a program (run-ts.js sets argv[1] to this file), not when imported by a test
if (process.argv[1] && path.resolve(process.argv[1]) === __filename) {
  main().catch((err) => {
    console.error(`kafka-topics: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
