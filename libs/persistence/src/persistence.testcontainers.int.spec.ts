// eslint-disable-next-line @nx/enforce-module-boundaries -- tests only: the shared fresh-database helper (libs/testing) sits above this lib
import { CONTAINER_IMAGES, databaseOn, dockerAvailableSync } from '@deltaflow/testing';
import type { StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import { describePersistenceContract } from './persistence-contract';

// The same suite against the PostgreSQL image docker-compose.yml deploys (CONTAINER_IMAGES,
// from infra/docker/images.json), only where a Docker engine answers.
const docker = dockerAvailableSync();
if (!docker) process.stderr.write('no Docker engine reachable: the testcontainers PostgreSQL variant of the persistence suite is skipped\n');

let container: Promise<StartedPostgreSqlContainer> | undefined;
const server = () =>
  (container ??= import('@testcontainers/postgresql').then(({ PostgreSqlContainer }) => new PostgreSqlContainer(CONTAINER_IMAGES.postgres).start()));

if (docker) {
  jest.setTimeout(180_000);
  afterAll(async () => {
    if (container) await (await container).stop();
  });
  describePersistenceContract('a testcontainers PostgreSQL', () => ({
    create: async () => databaseOn((await server()).getConnectionUri()),
  }));
} else {
  describe.skip('persistence on a testcontainers PostgreSQL (no Docker engine reachable)', () => {
    it('runs the persistence suite', () => undefined);
  });
}
