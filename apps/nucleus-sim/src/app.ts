/**
 * The reference nucleus: a block database (libs/blockdb) with a workload, publishing its
 * changes exactly as a real database engine integrating with Deltaflow would.
 *
 * Contract kept with the change logger and the save writer:
 * - every block change is published as BlockChanged (full after-image, raw bytes) with an
 *   LSN strictly increasing per dbid, persisted (lsn.json) so a restart continues above it;
 * - ORDER: the BlockChanged records of a transaction are published (acks=-1) BEFORE the
 *   blocks are written to the area files, so every change a reader of the files can see
 *   after a sync LSN s is also in the PLOG with an LSN > s;
 * - EtSync is emitted between transactions only (all work runs on one serial queue), in
 *   answer to SyncRequested on nucleus.commands (same syncId; answered once per syncId)
 *   and every `syncIntervalMs`;
 * - at each EtSync the database digest is appended to <dataDir>/sync-digests.jsonl as
 *   {syncId, lsn, digest} BEFORE the EtSync is published, so tests can compare a restored
 *   database with the source as of that sync;
 * - utility operations rewrite a range of a file's blocks: each block is also published
 *   as BlockChanged (txn 0) and the whole operation as UtilityChanged (marks);
 * - setActive(false) publishes NucleusState{active:false} and stops the workload (offline
 *   saves); setActive(true) resumes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { type Area, type Geometry, sampleGeometry } from '@deltaflow/blocks';
import { decodeFrom, encodeMessage, Topic, type AnyMessage } from '@deltaflow/contracts';
import { mulberry32 } from '@deltaflow/core';
import { ConsumerMonitor, contractCodec, createKafka } from '@deltaflow/service-kit';
import { Partitioners, type Consumer, type Producer } from 'kafkajs';
import { blockImage } from './block-image';
import { LsnStore } from './lsn-store';


export interface WorkloadConfig {
  /** pause between transactions (ms); 0 = as fast as the broker acknowledges */
  readonly txnIntervalMs: number;
  readonly blocksPerTxn: number;
  /** one utility operation every N transactions; 0 = never */
  readonly utilityEveryTxns: number;
  /** blocks rewritten by one utility operation */
  readonly utilityBlocks: number;
}

export interface NucleusSimConfig {
  readonly brokers: string[];
  readonly dataDir: string;
  readonly dbid: number;
  /** geometry used when the database does not exist yet */
  readonly geometry?: Geometry;
  readonly workload?: Partial<WorkloadConfig>;
  /** start the workload at once (default true) */
  readonly autoStart?: boolean;
  /** periodic EtSync; 0 = only on request (default 5000) */
  readonly syncIntervalMs?: number;
  readonly seed?: number;
  /**
   * Tests: a directory to copy the database's container files (header.json, ASSO, DATA) into at a
   * sync point, as they are at that sync; a restored database must be byte-identical to the copy.
   */
  readonly copyAtSync?: (syncId: string) => string | undefined;
  readonly clientId?: string;
  /** clock for NucleusState.at; default Date.now */
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
}

export interface SyncDigest {
  readonly syncId: string;
  readonly lsn: number;
  readonly digest: string;
}

export interface NucleusSim {
  readonly dbid: number;
  readonly databaseDir: string;
  /** LSN of the last published message */
  lastLsn(): number;
  /** digest recorded at a sync point, undefined if that sync never happened */
  digestAt(syncId: string): SyncDigest | undefined;
  /** emit an EtSync now (between transactions); resolves with it once published */
  sync(syncId: string): Promise<SyncDigest>;
  pauseWorkload(): void;
  resumeWorkload(): void;
  /** run n transactions now (serially, even when the workload is paused) */
  runTransactions(n: number): Promise<void>;
  /** run one utility operation now */
  runUtility(): Promise<void>;
  /** NucleusState active/inactive; inactive also pauses the workload */
  setActive(active: boolean): Promise<void>;
  /** the current digest of the database (between transactions) */
  digest(): Promise<string>;
  /** why it does not consume nucleus.commands now (undefined: it does); its /health check */
  unready(): string | undefined;
  stop(): Promise<void>;
}

const DEFAULT_WORKLOAD: WorkloadConfig = { txnIntervalMs: 50, blocksPerTxn: 4, utilityEveryTxns: 100, utilityBlocks: 8 };

function readDigests(file: string): Map<string, SyncDigest> {
  const out = new Map<string, SyncDigest>();
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const d = JSON.parse(line) as SyncDigest;
      out.set(d.syncId, d);
    } catch {
      // a torn last line after a crash: that sync was never published
    }
  }
  return out;
}

/** Starts the nucleus: opens (or creates) its database, connects to Kafka, starts the workload. */
export async function startNucleusSim(config: NucleusSimConfig): Promise<NucleusSim> {
  const dbid = config.dbid;
  const log = config.log ?? (() => undefined);
  const now = config.now ?? Date.now;
  const w: WorkloadConfig = { ...DEFAULT_WORKLOAD, ...config.workload };
  fs.mkdirSync(config.dataDir, { recursive: true });
  const databaseDir = path.join(config.dataDir, 'db');
  const db = BlockDatabase.exists(databaseDir)
    ? BlockDatabase.open(databaseDir)
    : BlockDatabase.create(databaseDir, { dbid, geometry: config.geometry ?? sampleGeometry() });
  if (db.dbid !== dbid) {
    db.close();
    throw new Error(`database at ${databaseDir} is dbid ${db.dbid}, configured dbid is ${dbid}`);
  }
  const lsns = new LsnStore(path.join(config.dataDir, 'lsn.json'));
  const digestFile = path.join(config.dataDir, 'sync-digests.jsonl');
  const digests = readDigests(digestFile);
  const random = mulberry32(config.seed ?? 1);
  const g = db.geometry;

  const kafka = createKafka({ clientId: config.clientId ?? `nucleus-sim-${dbid}`, brokers: config.brokers });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  async function publish(messages: AnyMessage[]): Promise<void> {
    const records = messages.map((m) => encodeMessage(m));
    await producer.send({
      topic: Topic.blockChanges,
      acks: -1,
      messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
    });
  }

  // One serial queue: a sync can never fall inside a transaction.
  let queue: Promise<unknown> = Promise.resolve();
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  }

  let txnNo = 0;
  function image(area: Area, rabn: number, lsn: number): Buffer {
    return blockImage(db.blockSize(area), dbid, rabn, lsn, Math.floor(random() * 0xffffffff));
  }

  function pickBlock(): { area: Area; rabn: number } {
    const f = g.files[Math.floor(random() * g.files.length)];
    // mostly data storage, sometimes the index or address converter
    const kinds = random() < 0.75 ? f.extents.filter((e) => e.part === 'DATA') : f.extents.filter((e) => e.part !== 'DATA');
    const list = kinds.length > 0 ? kinds : f.extents;
    const e = list[Math.floor(random() * list.length)];
    return { area: e.part === 'DATA' ? 'DATA' : 'ASSO', rabn: e.from + Math.floor(random() * (e.to - e.from + 1)) };
  }

  async function transaction(): Promise<void> {
    const txn = ++txnNo;
    const changes: Array<{ area: Area; rabn: number; image: Buffer; lsn: number }> = [];
    for (let i = 0; i < w.blocksPerTxn; i++) {
      const b = pickBlock();
      const lsn = lsns.take();
      changes.push({ ...b, lsn, image: image(b.area, b.rabn, lsn) });
    }
    // publish first, then write: every change visible in the files is in the PLOG
    await publish(changes.map((c) => ({ type: 'BlockChanged', dbid, area: c.area, rabn: c.rabn, lsn: c.lsn, txn, image: c.image })));
    for (const c of changes) db.writeBlock(c.area, c.rabn, c.image);
  }

  async function utility(): Promise<void> {
    if (g.files.length === 0) return;
    const f = g.files[Math.floor(random() * g.files.length)];
    const ds = f.extents.find((e) => e.part === 'DATA');
    if (ds === undefined) return;
    const n = Math.min(w.utilityBlocks, ds.to - ds.from + 1);
    const from = ds.from + Math.floor(random() * (ds.to - ds.from + 2 - n));
    const to = from + n - 1;
    const changes: AnyMessage[] = [];
    const writes: Array<[number, Buffer]> = [];
    for (let rabn = from; rabn <= to; rabn++) {
      const lsn = lsns.take();
      const img = image('DATA', rabn, lsn);
      writes.push([rabn, img]);
      changes.push({ type: 'BlockChanged', dbid, area: 'DATA', rabn, lsn, txn: 0, image: img });
    }
    changes.push({ type: 'UtilityChanged', dbid, lsn: lsns.take(), file: f.file, parts: ['DATA'], ranges: [{ area: 'DATA', from, to }] });
    await publish(changes);
    for (const [rabn, img] of writes) db.writeBlock('DATA', rabn, img);
  }

  async function doSync(syncId: string, quiet = false): Promise<SyncDigest> {
    const done = digests.get(syncId);
    if (done) return done; // answered once per syncId: its EtSync is already in the log
    const d: SyncDigest = { syncId, lsn: lsns.take(), digest: db.digest() };
    const copyTo = config.copyAtSync?.(syncId);
    if (copyTo !== undefined) {
      db.flush();
      fs.mkdirSync(copyTo, { recursive: true });
      for (const f of ['header.json', 'ASSO', 'DATA']) fs.copyFileSync(path.join(databaseDir, f), path.join(copyTo, f));
    }
    fs.appendFileSync(digestFile, `${JSON.stringify(d)}\n`);
    digests.set(syncId, d);
    await publish([{ type: 'EtSync', dbid, lsn: d.lsn, syncId }]);
    if (!quiet) log(`EtSync ${syncId} at LSN ${d.lsn}`);
    return d;
  }

  let active = true;
  let paused = config.autoStart === false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let loopRunning: Promise<void> | undefined;

  async function loop(): Promise<void> {
    while (!stopped && !paused && active) {
      await serial(async () => {
        await transaction();
        if (w.utilityEveryTxns > 0 && txnNo % w.utilityEveryTxns === 0) await utility();
      });
      if (w.txnIntervalMs > 0) await new Promise((r) => setTimeout(r, w.txnIntervalMs));
      else await new Promise((r) => setImmediate(r));
    }
  }
  function kick(): void {
    if (loopRunning || stopped || paused || !active) return;
    loopRunning = loop()
      .catch((e) => log(`workload stopped: ${(e as Error).message}`))
      .finally(() => {
        loopRunning = undefined;
      });
  }

  const syncMs = config.syncIntervalMs ?? 5000;
  if (syncMs > 0) {
    // periodic syncs are logged once a minute, as a heartbeat of the workload
    let lastReport = 0;
    timer = setInterval(() => {
      const report = Date.now() - lastReport >= 60_000;
      if (report) lastReport = Date.now();
      void serial(() => doSync(`auto-${dbid}-${lsns.last + 1}`, true))
        .then((d) => report && log(`workload: ${txnNo} transactions so far; periodic EtSync ${d.syncId} at LSN ${d.lsn} (every ${syncMs} ms)`))
        .catch((e) => log(`periodic sync failed: ${(e as Error).message}`));
    }, syncMs);
  }

  const groupId = `deltaflow.nucleus-sim.${dbid}`;
  const codec = contractCodec(groupId);
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 30_000 });
  const monitor = new ConsumerMonitor({ kafka, consumer, groupId, log });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topic.nucleusCommands], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      let cmd;
      try {
        cmd = decodeFrom(Topic.nucleusCommands, message.value);
      } catch (e) {
        // dead-lettered once: by the database it is keyed to (each database's consumer sees every command)
        const key = message.key?.toString();
        if (key !== undefined && /^\d+$/.test(key) && key !== String(dbid)) return;
        const err = e as { code?: unknown; message: string; field?: string };
        const dl = codec.encodeDeadLetter({
          sourceTopic: Topic.nucleusCommands,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          error: { code: typeof err.code === 'string' ? err.code : 'VALIDATION', message: err.message, field: err.field },
        });
        await producer.send({ topic: dl.topic, acks: -1, messages: [{ key: dl.key, value: dl.value }] });
        log(`a malformed nucleus command at offset ${message.offset} went to ${dl.topic}: ${err.message}`);
        return;
      }
      if (cmd.type === 'SyncRequested' && cmd.dbid === dbid) await serial(() => doSync(cmd.syncId));
    },
  });

  await serial(() => publish([{ type: 'NucleusState', dbid, lsn: lsns.take(), active: true, at: now() }]));
  kick();
  log(`nucleus-sim dbid ${dbid} active on ${databaseDir}`);

  return {
    dbid,
    databaseDir,
    lastLsn: () => lsns.last,
    digestAt: (syncId) => digests.get(syncId),
    sync: (syncId) => serial(() => doSync(syncId)),
    pauseWorkload() {
      paused = true;
    },
    resumeWorkload() {
      paused = false;
      kick();
    },
    runTransactions: (n) =>
      serial(async () => {
        for (let i = 0; i < n; i++) await transaction();
      }),
    runUtility: () => serial(() => utility()),
    setActive: (a) =>
      serial(async () => {
        active = a;
        await publish([{ type: 'NucleusState', dbid, lsn: lsns.take(), active: a, at: now() }]);
      }).then(() => kick()),
    digest: () => serial(async () => db.digest()),
    unready: () => (stopped ? 'stopped' : monitor.unready()),
    async stop() {
      if (stopped) return;
      stopped = true;
      await monitor.stop();
      if (timer) clearInterval(timer);
      await loopRunning;
      await queue;
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      db.close();
    },
  };
}
