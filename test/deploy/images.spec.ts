/**
 * One source for the container images: infra/docker/images.json. The Dockerfile's base,
 * docker-compose.yml's Kafka and PostgreSQL, and the testcontainers suites (through
 * libs/testing's CONTAINER_IMAGES) all use its entries, so the tests run what is deployed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CONTAINER_IMAGES } from '@deltaflow/testing';
import { parseDockerfile } from './support/dockerfile';
import { ROOT, read } from './support/context';
import { parseCompose } from './support/compose';

const IMAGES = JSON.parse(read('infra/docker/images.json')) as Record<string, string>;

describe('infra/docker/images.json', () => {
  it('names node, kafka and postgres, each with an explicit version tag', () => {
    expect(Object.keys(IMAGES).sort()).toEqual(['kafka', 'node', 'postgres']);
    for (const [k, image] of Object.entries(IMAGES)) expect([k, image]).toEqual([k, expect.stringMatching(/^[a-z0-9./-]+:(?!latest$)[A-Za-z0-9._-]+$/)]);
    expect(IMAGES.kafka).toMatch(/^apache\/kafka:/);
  });

  it("is the Dockerfile's base image (ARG NODE_IMAGE) for every stage", () => {
    const df = parseDockerfile(read('infra/docker/Dockerfile'));
    expect(df.globalArgs.NODE_IMAGE).toBe(IMAGES.node);
    expect(new Set(df.stages.map((s) => s.from))).toEqual(new Set(['${NODE_IMAGE}']));
  });

  it("is docker-compose.yml's Kafka and PostgreSQL", () => {
    const compose = parseCompose(read('docker-compose.yml'));
    expect(compose.services.kafka.image).toBe(IMAGES.kafka);
    expect(compose.services.postgres.image).toBe(IMAGES.postgres);
  });

  it("is libs/testing's CONTAINER_IMAGES, which the testcontainers suites run", () => {
    expect(CONTAINER_IMAGES).toEqual(IMAGES);
  });

  it('leaves no image name written out in a testcontainers suite', () => {
    const files = execFileSync('git', ['grep', '-l', '-e', 'testcontainers', '--', 'apps', 'libs', 'test', 'infra'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && !f.startsWith('test/deploy/'));
    expect(files).toEqual(expect.arrayContaining(['libs/persistence/src/persistence.testcontainers.int.spec.ts', 'test/kafka-conformance/real-kafka.int.spec.ts']));
    // a quoted image reference with a tag, e.g. 'postgres:16-alpine' or "confluentinc/cp-kafka:7.7.1"
    // (a tag with a digit: 'node:child_process' is a module, not an image)
    const imageLiteral = /['"`](?:[a-z0-9.-]+\/)*(?:postgres|kafka|cp-kafka|redpanda|zookeeper|node)[a-z0-9._-]*:[A-Za-z._-]*\d[A-Za-z0-9._-]*['"`]/;
    const literal = files.filter((f) => f !== 'libs/testing/src/docker.ts').filter((f) => imageLiteral.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    expect(literal).toEqual([]);
    const suites = files.filter((f) => /\.spec\.ts$/.test(f) && /new (PostgreSqlContainer|KafkaContainer|GenericContainer)\(|startKafkaContainer\(/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
    for (const f of suites) expect([f, /CONTAINER_IMAGES|startKafkaContainer/.test(fs.readFileSync(path.join(ROOT, f), 'utf8'))]).toEqual([f, true]);
  });
});
