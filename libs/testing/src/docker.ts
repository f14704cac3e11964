import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Whether a Docker engine answers, decided quickly (≤ timeoutMs): DOCKER_HOST tcp://, or the
 * default Unix socket. Used to run testcontainers variants of a suite only where they can run.
 */
export async function dockerAvailable(timeoutMs = 1000): Promise<boolean> {
  const host = process.env.DOCKER_HOST;
  let target: net.NetConnectOpts;
  if (host?.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    target = { host: u.hostname, port: Number(u.port || 2375) };
  } else {
    const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
    if (!fs.existsSync(socketPath)) return false;
    target = { path: socketPath };
  }
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      // An engine answers /_ping with OK.
      socket.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    });
    socket.once('data', (chunk) => done(/^HTTP\/1\.[01] 200/.test(chunk.toString('latin1'))));
  });
}

/**
 * The same check, synchronously (for choosing describe or describe.skip while jest collects
 * tests): runs dockerAvailable in a child node process.
 */
export function dockerAvailableSync(timeoutMs = 1000): boolean {
  if (!process.env.DOCKER_HOST && !fs.existsSync('/var/run/docker.sock')) return false;
  const script = `(${dockerAvailable.toString()})(${timeoutMs}).then((ok) => process.exit(ok ? 0 : 1))`;
  const r = spawnSync(process.execPath, ['-e', `const fs = require('node:fs'); const net = require('node:net'); ${script}`], {
    timeout: timeoutMs + 2000,
    stdio: 'ignore',
  });
  return r.status === 0;
}

/**
 * The Kafka and PostgreSQL images the testcontainers suites run: the ones docker-compose.yml
 * deploys, from their single source infra/docker/images.json (test/deploy/images.spec.ts
 * checks compose, Kubernetes and these suites against it).
 */
export const CONTAINER_IMAGES: Readonly<{ node: string; kafka: string; postgres: string }> = Object.freeze(
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'infra', 'docker', 'images.json'), 'utf8')),
);

export interface KafkaContainer {
  /** host:port to bootstrap from, outside the container */
  readonly brokers: string[];
  stop(): Promise<void>;
}

/**
 * A single-node KRaft Kafka from CONTAINER_IMAGES.kafka (apache/kafka), configured like
 * docker-compose.yml's (log dir on /var/lib/kafka/data, broker and controller in one node).
 * The advertised listener must name the port Docker maps, known only once the container
 * runs: the container waits for a start script, which is written then (as testcontainers'
 * own Kafka modules do). Needs a Docker engine (see dockerAvailable).
 */
export async function startKafkaContainer(opts: { image?: string; startupTimeoutMs?: number } = {}): Promise<KafkaContainer> {
  const tc = await import('testcontainers');
  const { GenericContainer, Wait, BoundPorts, getContainerRuntimeClient, waitForContainer } = tc;
  const script = '/tmp/deltaflow-kafka-start.sh';
  const ready = '/tmp/deltaflow-kafka-start.ready';
  const timeout = opts.startupTimeoutMs ?? 180_000;

  class ApacheKafkaContainer extends GenericContainer {
    constructor(image: string) {
      super(image);
      this.withExposedPorts(9092)
        .withEnvironment({
          CLUSTER_ID: 'V8Lcr9Vdhbm_IWiXI-zfnA',
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          // PLAINTEXT for clients on the host (mapped port), BROKER between brokers, CONTROLLER for KRaft
          KAFKA_LISTENERS: 'PLAINTEXT://:9092,BROKER://:9093,CONTROLLER://:9094',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
          KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9094',
          KAFKA_LOG_DIRS: '/var/lib/kafka/data',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        })
        .withCommand(['sh', '-c', `echo 'waiting for the start script'; while [ ! -f ${ready} ]; do sleep 0.1; done; exec bash ${script}`])
        .withWaitStrategy(Wait.forLogMessage('waiting for the start script'))
        .withStartupTimeout(timeout);
    }

    protected override async containerStarted(container: import('testcontainers').StartedTestContainer, inspectResult: import('testcontainers').InspectResult): Promise<void> {
      const advertised = `PLAINTEXT://${container.getHost()}:${container.getMappedPort(9092)},BROKER://${inspectResult.hostname}:9093`;
      await container.copyContentToContainer([{ content: `#!/bin/bash\nexport KAFKA_ADVERTISED_LISTENERS=${advertised}\nexec /etc/kafka/docker/run\n`, target: script, mode: 0o755 }]);
      // a second copy, after the first is complete: the loop above never runs a half-written script
      await container.copyContentToContainer([{ content: '', target: ready }]);
      const client = await getContainerRuntimeClient();
      const boundPorts = BoundPorts.fromInspectResult(client.info.containerRuntime.hostIps, inspectResult).filter([9092]);
      const running = Wait.forLogMessage(/Kafka Server started|Transitioning from RECOVERY to RUNNING/).withStartupTimeout(timeout);
      await waitForContainer(client, client.container.getById(container.getId()), running, boundPorts);
    }
  }

  const started = await new ApacheKafkaContainer(opts.image ?? CONTAINER_IMAGES.kafka).start();
  return {
    brokers: [`${started.getHost()}:${started.getMappedPort(9092)}`],
    async stop() {
      await started.stop();
    },
  };
}
