import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { describeKafkaConformance } from './conformance';

describeKafkaConformance('embedded broker', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-conf-'));
  const kafka = await startEmbeddedKafka({ dataDir });
  return {
    brokers: kafka.brokers,
    async stop() {
      await kafka.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
