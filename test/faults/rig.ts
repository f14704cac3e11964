/**
 * A whole Deltaflow on real OS processes for fault tests: the embedded broker as its own process
 * (on a fixed port, restarted on the same data directory), an embedded PostgreSQL (its postmaster
 * is a process of its own, restarted on the same cluster and port), the change logger, save
 * writer, DSIM builder and merge engine as service processes, and a reference nucleus writing its
 * database in this process (it is the upstream, not a target). `kill9(target)` is SIGKILL of the
 * target's OS process; `restart(target)` starts it again as a supervisor would.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import { startEmbeddedPostgres, type RunningPostgres } from '@deltaflow/embedded-postgres';
import { startChild, stopChild, type Child } from '@deltaflow/processes';
import { createKafka } from '@deltaflow/service-kit';
import { DsfDriver, freePort, Publisher, ServiceProcesses, TopicCollector } from '@deltaflow/testing';
import { provisionTopics } from '@deltaflow/topics';
import { startNucleusSim, type NucleusSim } from '../../apps/nucleus-sim/src/app';

export const SERVICES = ['change-logger', 'save-writer', 'dsim-builder', 'merge-engine', 'stream-multiplexer'] as const;
/** the stream the rig defines (saves to a stream go there) */
export const RIG_STREAM = 'F1';
export type Target = (typeof SERVICES)[number] | 'broker' | 'postgres';

export interface RigOptions {
  readonly dbMib: number;
  /** the save writer's and merge engine's rate limit, so that a kill lands in the middle of a copy */
  readonly bytesPerSec: string;
  readonly log?: (m: string) => void;
}

export class FaultRig {
  readonly root = (() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-rig-'));
    fs.chmodSync(dir, 0o755); // PostgreSQL's own OS user (when we are root) reaches its cluster through it
    return dir;
  })();
  readonly dataDir = path.join(this.root, 'data');
  readonly dbid = 1;
  brokerPort = 0;
  broker?: Child;
  pg?: RunningPostgres;
  nucleus!: NucleusSim;
  services!: ServiceProcesses;
  pub!: Publisher;
  events!: TopicCollector;
  dsf!: DsfDriver;
  private pgPort = 0;
  private readonly brokerLines: string[] = [];

  constructor(private readonly o: RigOptions) {}

  get brokers(): string[] {
    return [`127.0.0.1:${this.brokerPort}`];
  }

  private async startBroker(): Promise<void> {
    const child = startChild(
      'broker',
      'infra/embedded-kafka/src/main.ts',
      ['--port', String(this.brokerPort), '--data-dir', path.join(this.root, 'kafka'), '--fsync', 'never'],
      { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      /listening on (\S+)/,
      (line) => {
        this.brokerLines.push(line);
        if (this.brokerLines.length > 500) this.brokerLines.splice(0, 100);
      },
    );
    this.broker = child;
    await child.ready;
  }

  private async startPostgres(): Promise<void> {
    // durable commits, as in production: with fsync off (synchronous_commit off) a kill -9 of the
    // postmaster loses commits it acknowledged, while Kafka keeps the consumers' offsets past them
    this.pg = await startEmbeddedPostgres({ dataDir: path.join(this.root, 'postgres'), port: this.pgPort || undefined });
    this.pgPort = this.pg.port;
  }

  async start(): Promise<void> {
    this.brokerPort = await freePort();
    await this.startBroker();
    await this.startPostgres();
    const admin = createKafka({ clientId: 'fault-rig', brokers: this.brokers }).admin();
    await admin.connect();
    await provisionTopics(admin, { partitions: 2, bulkRetentionMs: -1 });
    await admin.disconnect();
    this.nucleus = await startNucleusSim({
      brokers: this.brokers,
      dbid: this.dbid,
      dataDir: path.join(this.dataDir, 'nucleus-sim', `db${this.dbid}`),
      geometry: sampleGeometryOfSize(this.o.dbMib),
      workload: { txnIntervalMs: 10, blocksPerTxn: 6 },
      syncIntervalMs: 0,
    });
    const catalogPort = await freePort();
    this.services = new ServiceProcesses({
      CATALOG_HTTP_PORT: String(catalogPort),
      CATALOG_URL: `http://127.0.0.1:${catalogPort}`,
      KAFKA_BROKERS: this.brokers.join(','),
      DATABASE_URL: this.pg!.url,
      DELTAFLOW_DATA_DIR: this.dataDir,
      CHANGE_LOGGER_DATABASES: this.nucleus.databaseDir,
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      SAVE_WRITER_MAX_BYTES_PER_SEC: this.o.bytesPerSec,
      MERGE_ENGINE_MAX_BYTES_PER_SEC: this.o.bytesPerSec,
    });
    this.pub = await new Publisher(this.brokers).start();
    this.events = await new TopicCollector(this.brokers, 'dsf.events').start();
    this.dsf = new DsfDriver(this.pub, this.events, 240_000);
    // the catalog (not a target) locates a streamed data set's runs for the merge engine
    await Promise.all([...SERVICES, 'catalog'].map((s) => this.services.start(s)));
    const sov = await new TopicCollector(this.brokers, 'sov.events').start();
    try {
      await this.pub.publish({ type: 'StreamDefine', stream: RIG_STREAM });
      await sov.waitFor((e) => e.type === 'DeviceAdded' && 'stream' in e && e.stream === RIG_STREAM, 60_000, `stream ${RIG_STREAM} with a device`);
    } finally {
      await sov.stop();
    }
  }

  /** SIGKILL of the target's OS process; resolves once it is gone. */
  async kill9(target: Target): Promise<void> {
    if (target === 'broker') {
      this.broker!.proc.kill('SIGKILL');
      await this.broker!.exited;
    } else if (target === 'postgres') {
      process.kill(this.pg!.pid, 'SIGKILL');
      while (alive(this.pg!.pid)) await new Promise((r) => setTimeout(r, 20));
    } else {
      await this.services.kill9(target);
    }
  }

  /** Starts the target again, as a supervisor does right after a crash. */
  async restart(target: Target): Promise<void> {
    if (target === 'broker') await this.startBroker();
    else if (target === 'postgres') await this.startPostgres();
    else await this.services.start(target);
  }

  /** What the processes printed last, for a failure's report. */
  tail(n = 120): string {
    return `${this.services.tail(n)}\n${this.brokerLines.slice(-20).join('\n')}`;
  }

  async stop(): Promise<void> {
    await this.services?.stopAll();
    await this.events?.stop();
    await this.pub?.stop();
    await this.nucleus?.stop().catch(() => undefined);
    if (this.broker) await stopChild(this.broker);
    await this.pg?.stop().catch(() => undefined);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
