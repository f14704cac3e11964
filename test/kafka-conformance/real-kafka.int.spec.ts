import { spawnSync } from 'node:child_process';
import { startKafkaContainer } from '@deltaflow/testing';
import { describeKafkaConformance } from './conformance';

/**
 * The same conformance suite against a real Kafka in a container (the apache/kafka image and
 * version docker-compose.yml deploys, KRaft: startKafkaContainer), only when a Docker engine
 * answers within a few seconds; otherwise the suite is skipped.
 */
const PROBE = `
const { getContainerRuntimeClient } = require('testcontainers');
const t = setTimeout(() => process.exit(1), 5000);
getContainerRuntimeClient().then(() => { clearTimeout(t); process.exit(0); }, () => process.exit(1));
`;
const dockerAvailable =
  process.env.DELTAFLOW_SKIP_DOCKER !== '1' && spawnSync(process.execPath, ['-e', PROBE], { cwd: __dirname, stdio: 'ignore', timeout: 8000 }).status === 0;

if (dockerAvailable) {
  describeKafkaConformance('real Kafka (testcontainers)', () => startKafkaContainer());
} else {
  console.warn('no Docker engine: testcontainers Kafka suite skipped');
  describe.skip('kafka conformance: real Kafka (testcontainers)', () => {
    it('needs a Docker engine', () => undefined);
  });
}
