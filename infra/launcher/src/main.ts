/**
 * `npm start`: brings the whole system up on embedded defaults — the embedded Kafka broker,
 * the embedded PostgreSQL, every service — prints where each listens, runs the main job,
 * and on Ctrl-C / SIGTERM stops all of it, leaving no process behind.
 *
 * KAFKA_BROKERS or DATABASE_URL, when set, replace the embedded broker or PostgreSQL.
 * DELTAFLOW_HOME (default ./.deltaflow) holds the broker log, the PostgreSQL data directory
 * and the services' files, so a second `npm start` continues where the first stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEmbeddedPostgres } from '@deltaflow/embedded-postgres';
import { Child, ROOT, startChild, stopChild } from './processes';
import { SERVICES } from './services';
import { runMainJob } from './main-job';

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  const home = path.resolve(process.env.DELTAFLOW_HOME || path.join(ROOT, '.deltaflow'));
  fs.mkdirSync(home, { recursive: true });
  const stack: Stoppable[] = [];
  let shuttingDown = false;

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log('deltaflow: stopping...');
    for (const s of stack.reverse()) {
      await s.stop().catch((e) => console.error(`deltaflow: stopping ${s.name}: ${e?.message ?? e}`));
    }
    console.log('deltaflow: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    let brokers = process.env.KAFKA_BROKERS;
    if (!brokers) {
      const port = process.env.DELTAFLOW_KAFKA_PORT || '19092';
      const broker: Child = startChild(
        'embedded-kafka',
        'infra/embedded-kafka/src/main.ts',
        ['--port', port, '--data-dir', path.join(home, 'kafka')],
        { ...process.env },
        /embedded-kafka listening on (\S+)/,
      );
      stack.push({ name: 'embedded-kafka', stop: () => stopChild(broker) });
      const r = await broker.ready;
      brokers = (r.match as string[])[0];
    }
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(home, 'postgres'),
        port: Number(process.env.DELTAFLOW_PG_PORT || 0) || undefined,
      });
      stack.push({ name: 'embedded-postgres', stop: () => pg.stop() });
      databaseUrl = pg.url;
    }
    const table: Array<[string, string]> = [
      ['kafka', brokers],
      ['postgresql', databaseUrl.replace(/:[^:@/]*@/, ':***@')],
    ];

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: brokers,
      DATABASE_URL: databaseUrl,
      DELTAFLOW_DATA_DIR: path.join(home, 'data'),
    };
    for (const spec of SERVICES) {
      const child = startChild(spec.name, `apps/${spec.name}/src/main.ts`, [], { ...env, ...spec.env });
      stack.push({ name: spec.name, stop: () => stopChild(child) });
      const r = await child.ready;
      table.push([spec.name, (r.httpUrl as string | undefined) ?? 'kafka consumer']);
    }
    console.log('\nDeltaflow is up:');
    for (const [k, v] of table) console.log(`  ${k.padEnd(20)} ${v}`);
    console.log('Press Ctrl-C to stop.\n');
    await runMainJob({ brokers, databaseUrl, home, env, onChild: (c) => stack.push({ name: c.name, stop: () => stopChild(c) }) });
  } catch (err: any) {
    console.error(`deltaflow: ${err?.message ?? err}`);
    await shutdown(1);
  }
}

void main();
