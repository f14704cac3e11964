/**
 * `npm start`: brings the whole system up on embedded defaults — the embedded Kafka broker,
 * the embedded PostgreSQL, every service — prints where each listens, runs the main job,
 * and on Ctrl-C / SIGTERM stops all of it, leaving no process behind.
 *
 * KAFKA_BROKERS or DATABASE_URL, when set, replace the embedded broker or PostgreSQL.
 * DELTAFLOW_MAIN_JOB=0 brings everything up without running the main job. `npm start -- --schedule`
 * (or DELTAFLOW_SCHEDULE=compressed) runs the seed's sample schedule in compressed time instead
 * (schedule-job.ts: a day of 20 s, a week of 140 s; DELTAFLOW_SCHEDULE_DELTA_EVERY / _CYCLE).
 * DELTAFLOW_HOME (default ./.deltaflow) holds the broker log, the PostgreSQL data directory
 * and the services' files, so a second `npm start` continues where the first stopped.
 * The embedded PostgreSQL's passwords are generated once into $DELTAFLOW_HOME/credentials/
 * postgres.json (0600); services get DATABASE_URL for its non-superuser role `deltaflow`.
 * DELTAFLOW_PG_LISTEN (default 127.0.0.1) lists the addresses it listens on.
 * Every service gets a loopback HTTP port (18080 catalog, 18081-18086 and 18088 the others in start order,
 * 18087 the console, started last with CONSOLE_SERVICES naming every other service's URL;
 * <SERVICE>_HTTP_PORT wins; a port taken already: any free one) for /health and /metrics, printed
 * in the start-up table.
 * Before the services start it creates the topics (infra/topics: DELTAFLOW_TOPIC_PARTITIONS
 * partitions, default 12; DELTAFLOW_PROVISION_TOPICS=0 skips it for a cluster provisioned
 * otherwise). A service that exits unexpectedly is restarted with a backoff (1 s doubling to
 * 30 s), and left stopped after 5 crashes within 5 minutes.
 * Once up, it writes $DELTAFLOW_HOME/run/endpoints.json (0600), where `dsf` finds it (and where
 * each service's HTTP listener is: `services`); stopping removes it.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from '@deltaflow/core';
import { EmbeddedPostgresError, startEmbeddedPostgres, startPostgresWatchdog, type RunningPostgres } from '@deltaflow/embedded-postgres';
import { Child, ROOT, startChild, stopChild, supervise } from '@deltaflow/processes';
import { provisionTopics, settingsFromEnv } from '@deltaflow/topics';
import { createKafka } from '@deltaflow/service-kit';
import { httpPortVariable, SERVICES } from './services';
import { runMainJob } from './main-job';
import { runScheduleJob } from './schedule-job';

interface Stoppable {
  name: string;
  /** a Deltaflow service (stopped in parallel, before the broker and PostgreSQL) */
  service?: boolean;
  stop(): Promise<void>;
}

/** `port` when it can be bound on `host` now, else 0 (the service then takes any free port); port 0: a free one now. */
function portIfFree(host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(0));
    probe.listen({ port, host, exclusive: true }, () => {
      const got = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(got));
    });
  });
}

async function main(): Promise<void> {
  const home = path.resolve(process.env.DELTAFLOW_HOME || path.join(ROOT, '.deltaflow'));
  fs.mkdirSync(home, { recursive: true });
  const stack: Stoppable[] = [];
  let shuttingDown = false;
  // where `dsf` finds this system (apps/cli/src/endpoints.ts): written once everything is up, removed first at stop
  const endpointsFile = path.join(home, 'run', 'endpoints.json');
  let endpointsWritten = false; // only ours: a second launcher failing on this home leaves the first one's file
  const removeEndpoints = () => endpointsWritten && fs.rmSync(endpointsFile, { force: true });
  process.on('exit', removeEndpoints);

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    removeEndpoints();
    console.log('deltaflow: stopping...');
    const stopOne = async (s: Stoppable) => {
      const t0 = Date.now();
      await s.stop().then(
        () => console.log(`deltaflow: ${s.name} stopped (${Date.now() - t0} ms)`),
        (e) => console.error(`deltaflow: stopping ${s.name}: ${e?.message ?? e}`),
      );
    };
    // the services together (they do not depend on each other), then what they run on
    await Promise.all(stack.filter((s) => s.service).map(stopOne));
    for (const s of stack.filter((x) => !x.service).reverse()) await stopOne(s);
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
    if (process.env.DELTAFLOW_PROVISION_TOPICS !== '0') {
      // every topic with DELTAFLOW_TOPIC_PARTITIONS partitions and its retention, before any
      // service subscribes (a topic auto-created by a client would get one partition)
      const settings = settingsFromEnv();
      const admin = createKafka({ clientId: 'deltaflow-launcher', brokers: brokers.split(',').map((b) => b.trim()) }).admin();
      await admin.connect();
      try {
        const r = await provisionTopics(admin, settings, { log: () => undefined });
        for (const w of r.warnings) console.log(`deltaflow: topics: ${w}`);
      } finally {
        await admin.disconnect();
      }
    }
    let databaseUrl = process.env.DATABASE_URL;
    let pgNote = '';
    if (!databaseUrl) {
      const port = Number(process.env.DELTAFLOW_PG_PORT || 0) || undefined;
      const pgSettings = {
        port,
        credentialsFile: path.join(home, 'credentials', 'postgres.json'),
        ...(process.env.DELTAFLOW_PG_LISTEN ? { listenAddresses: process.env.DELTAFLOW_PG_LISTEN.split(',').map((a) => a.trim()).filter(Boolean) } : {}),
        logger: { info: () => undefined, warn: (m: string) => console.log(`deltaflow: postgresql: ${m}`) },
      };
      let pg: RunningPostgres;
      try {
        pg = await startEmbeddedPostgres({ dataDir: path.join(home, 'postgres'), ...pgSettings });
      } catch (err) {
        // As root, PostgreSQL runs as an unprivileged user who may not reach DELTAFLOW_HOME
        // (a clone under /root, say): keep its cluster where that user can, one per home.
        if (!(err instanceof EmbeddedPostgresError) || err.code !== 'DATA_DIR_INVALID' || !/not searchable/.test(err.message)) throw err;
        const fallback = path.join('/var/lib/deltaflow', `postgres-${createHash('sha1').update(home).digest('hex').slice(0, 12)}`);
        console.log(`deltaflow: ${err.message}; using ${fallback} for PostgreSQL's data instead`);
        fs.mkdirSync(path.dirname(fallback), { recursive: true });
        fs.chmodSync(path.dirname(fallback), 0o755);
        pg = await startEmbeddedPostgres({ dataDir: fallback, ...pgSettings });
      }
      // should the launcher be killed outright, the watchdog still stops PostgreSQL
      const watchdog = startPostgresWatchdog(process.pid, pg.pid);
      stack.push({
        name: 'embedded-postgres',
        stop: async () => {
          await pg.stop();
          watchdog.kill();
        },
      });
      databaseUrl = pg.url; // the service role (no superuser); the superuser's password stays in the credentials file
      const shown = path.relative(process.cwd(), pg.credentialsFile);
      pgNote = `  (role ${pg.serviceRole}; passwords in ${shown.startsWith('..') ? pg.credentialsFile : shown})`;
    }
    const table: Array<[string, string]> = [
      ['kafka', brokers],
      ['postgresql', `${databaseUrl.replace(/:[^:@/]*@/, ':***@')}${pgNote}`],
    ];

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: brokers,
      DATABASE_URL: databaseUrl,
      DELTAFLOW_DATA_DIR: process.env.DELTAFLOW_DATA_DIR || path.join(home, 'data'),
    };
    const urls: Record<string, string> = {};
    const started: Array<{ name: string; url: string; pid?: number; role: string }> = [];
    const httpHost = process.env.HTTP_HOST || '127.0.0.1';
    // /health and /metrics of every service: its own variable wins, else its loopback port if free;
    // the catalog's is fixed before anything starts, so the services reading client files back
    // (stream inputs of the merge engine) get CATALOG_URL
    const ports = new Map<string, string>();
    for (const spec of SERVICES) ports.set(spec.name, process.env[httpPortVariable(spec.name)] || String(await portIfFree(httpHost, spec.httpPort)));
    if (ports.get('catalog') === '0') ports.set('catalog', String(await portIfFree(httpHost, 0)));
    if (!env.CATALOG_URL) env.CATALOG_URL = `http://${httpHost === '0.0.0.0' ? '127.0.0.1' : httpHost}:${ports.get('catalog')}`;
    const startService = async (spec: (typeof SERVICES)[number]) => {
      const portVar = httpPortVariable(spec.name);
      const httpPort = ports.get(spec.name)!;
      // restarted when it crashes (or is killed), with a backoff; given up after repeated crashes
      // the console reads the /metrics of every service started before it
      const extra: Record<string, string> =
        spec.name === 'console' && !env.CONSOLE_SERVICES ? { CONSOLE_SERVICES: Object.entries(urls).map(([n, u]) => `${n}=${u}`).join(',') } : {};
      const supervised = supervise(spec.name, () => startChild(spec.name, `apps/${spec.name}/src/main.ts`, [], { ...spec.env, ...env, ...extra, [portVar]: httpPort }));
      const child = supervised.current();
      stack.push({ name: spec.name, service: true, stop: () => supervised.stop(stopChild) });
      const r = await child.ready;
      if (typeof r.httpUrl === 'string') urls[spec.name] = r.httpUrl;
      return { name: spec.name, url: typeof r.httpUrl === 'string' ? r.httpUrl : '', pid: child.proc.pid, role: spec.role };
    };
    // the reference nucleus first (the change logger opens its database), the console last (it
    // reads every other service), the rest together: each compiles its sources as it starts
    const first = SERVICES.filter((s) => s.name === 'nucleus-sim');
    const last = SERVICES.filter((s) => s.name === 'console');
    const together = SERVICES.filter((s) => !first.includes(s) && !last.includes(s));
    for (const spec of first) started.push(await startService(spec));
    const middle = await Promise.allSettled(together.map((spec) => startService(spec)));
    const failed = middle.find((m): m is PromiseRejectedResult => m.status === 'rejected');
    if (failed) throw failed.reason;
    for (const m of middle) if (m.status === 'fulfilled') started.push(m.value);
    for (const spec of last) started.push(await startService(spec));
    const urlWidth = Math.max(0, ...started.map((s) => s.url.length));
    for (const s of started) table.push([s.name, `${s.url.padEnd(urlWidth)}  (pid ${s.pid}) ${s.role}`]);
    console.log('\nDeltaflow is up:');
    for (const [k, v] of table) console.log(`  ${k.padEnd(20)} ${v}`);
    const auth = process.env.HTTP_TOKEN || process.env.HTTP_TOKEN_FILE ? '; Authorization: Bearer $HTTP_TOKEN (but /health/live)' : '';
    console.log(`  ${''.padEnd(20)} each service: <url>/health (/health/live, /health/ready), <url>/metrics (Prometheus)${auth}`);
    if (urls.console) console.log(`\nOpen the console: ${urls.console}/${auth ? ' (it asks for HTTP_TOKEN once)' : ''}`);
    fs.mkdirSync(path.dirname(endpointsFile), { recursive: true, mode: 0o700 });
    const endpoints = {
      kafkaBrokers: brokers.split(',').map((b) => b.trim()).filter(Boolean),
      ...(urls.catalog ? { catalogUrl: urls.catalog } : {}),
      ...(urls.console ? { consoleUrl: urls.console } : {}),
      services: urls,
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    writeFileAtomic(endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
    endpointsWritten = true;
    console.log('Press Ctrl-C to stop.\n');
    if (process.env.DELTAFLOW_MAIN_JOB === '0') return;
    const catalogUrl = urls.catalog;
    if (process.argv.includes('--schedule') || process.env.DELTAFLOW_SCHEDULE === 'compressed') {
      await runScheduleJob({
        env: { ...env, ...(catalogUrl ? { CATALOG_URL: catalogUrl } : {}) },
        home,
        dataDir: env.DELTAFLOW_DATA_DIR as string,
        ...(process.env.DELTAFLOW_SCHEDULE_DELTA_EVERY ? { deltaEvery: process.env.DELTAFLOW_SCHEDULE_DELTA_EVERY } : {}),
        ...(process.env.DELTAFLOW_SCHEDULE_CYCLE ? { cycle: process.env.DELTAFLOW_SCHEDULE_CYCLE } : {}),
      }).catch((err: Error) => console.error(`schedule job: FAILED: ${err.message} (the services keep running; Ctrl-C to stop)`));
      return;
    }
    await runMainJob({ env: { ...env, ...(catalogUrl ? { CATALOG_URL: catalogUrl } : {}) }, home, dataDir: env.DELTAFLOW_DATA_DIR as string }).catch((err: Error) =>
      console.error(`main job: FAILED: ${err.message} (the services keep running; Ctrl-C to stop)`),
    );
  } catch (err: any) {
    console.error(`deltaflow: ${err?.message ?? err}`);
    await shutdown(1);
  }
}

void main();
