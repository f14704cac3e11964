/**
 * The save writer service, startable in-process (tests, launcher) or from main.ts.
 *
 * Consumes dsf.commands (SaveRequested) through the Nest Kafka transport, and tails
 * dsf.events and dsf.dlog (DlogCaptured) from offset 0 to rebuild each database's save state
 * before handling any command, and dsf.block-changes (NucleusState, EtSync) from its
 * checkpoint (tail-checkpoint.ts) or offset 0.
 *
 * Where data lives: data sets in `<dataDir>/datasets/<name>`; the database containers of
 * dbid N in `<dataDir>/databases/N` unless `databaseDir` says otherwise.
 *
 * A delta save reads the blocks of the DLOG capture that the change logger publishes as
 * DlogCaptured with the save's correlation id (it captures on SaveStarted, at the save's
 * start sync LSN, or the whole DLOG for an offline save); SaveCompleted / SaveFailed tell it
 * to drop or return that capture.
 */
import { Module } from '@nestjs/common';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { contractCodec, EventPublisher, runService, type RunningService } from '@deltaflow/service-kit';
import { LogTail } from './log-tail';
import { checkpointPath, readCheckpoint, writeCheckpoint } from './tail-checkpoint';
import { SaveRunner } from './save-runner';
import { SAVE_RUNNER, SaveWriterController } from './save-writer.controller';

export interface SaveWriterConfig {
  readonly brokers: string[];
  readonly dataDir: string;
  readonly groupId?: string;
  readonly clientId?: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly syncTimeoutMs?: number;
  readonly captureTimeoutMs?: number;
  readonly progressEveryMs?: number;
  readonly fsync?: boolean;
  readonly log?: (msg: string) => void;
  /** how often the dsf.block-changes checkpoint is written (default 30 s; also at start and stop) */
  readonly checkpointEveryMs?: number;
}

export interface RunningSaveWriter {
  readonly runner: SaveRunner;
  /** stops cleanly: running saves are reported failed */
  stop(): Promise<void>;
  /** stops as if killed: running saves are left unfinished (the next start reports them failed) */
  kill(): Promise<void>;
}

/** Starts the save writer; resolves once it has rebuilt its state and consumes commands. */
export async function startSaveWriter(config: SaveWriterConfig): Promise<RunningSaveWriter> {
  const clientId = config.clientId ?? 'save-writer';
  const log = config.log ?? ((m: string) => console.log(`[save-writer] ${m}`));
  const publisher = new EventPublisher<AnyMessage>(config.brokers, clientId, (m) => encodeMessage(m));
  await publisher.connect();
  const tailRef: { current?: LogTail } = {};
  const runner = new SaveRunner({
    barrier: async () => tailRef.current?.barrier(),
    dataDir: config.dataDir,
    databaseDir: config.databaseDir,
    publish: (...ms) => publisher.publish(...ms),
    now: () => Date.now(),
    syncTimeoutMs: config.syncTimeoutMs ?? 30_000,
    captureTimeoutMs: config.captureTimeoutMs ?? 30_000,
    progressEveryMs: config.progressEveryMs ?? 1_000,
    fsync: config.fsync,
    log,
  });
  const cpFile = checkpointPath(config.dataDir);
  const checkpoint = readCheckpoint(cpFile, log);
  if (checkpoint) runner.restoreNucleus(checkpoint.nucleus);
  const tail = new LogTail({
    brokers: config.brokers,
    clientId,
    topics: ['dsf.events', 'dsf.block-changes', 'dsf.dlog'],
    skipTypes: ['BlockChanged', 'UtilityChanged', 'DlogRecorded', 'SaveProgress'],
    onMessage: (m) => runner.onLog(m),
    log,
    ...(checkpoint ? { startAt: checkpoint.positions } : {}),
  });
  tailRef.current = tail;
  // positions and nucleus states are taken in one synchronous step, so they agree
  const saveCheckpoint = () => {
    try {
      writeCheckpoint(cpFile, { positions: tail.positions(), nucleus: runner.nucleusStates() });
    } catch (err) {
      log(`could not write the tail checkpoint ${cpFile}: ${(err as Error).message}`);
    }
  };
  await tail.start();
  await tail.caughtUp;
  saveCheckpoint();
  const cpTimer = setInterval(saveCheckpoint, config.checkpointEveryMs ?? 30_000);
  cpTimer.unref();
  await runner.failInterrupted();

  @Module({ controllers: [SaveWriterController], providers: [{ provide: SAVE_RUNNER, useValue: runner }] })
  class SaveWriterModule {}

  let svc: RunningService;
  try {
    svc = await runService({
      name: 'save-writer',
      module: SaveWriterModule,
      kafka: {
        brokers: config.brokers,
        clientId,
        groupId: config.groupId ?? 'deltaflow.save-writer',
        ...contractCodec(config.groupId ?? 'deltaflow.save-writer'),
      },
    });
  } catch (err) {
    clearInterval(cpTimer);
    await tail.stop();
    await publisher.close();
    throw err;
  }
  const shutdown = async (kill: boolean) => {
    clearInterval(cpTimer);
    await svc.stop();
    await runner.stop(kill);
    if (!kill) saveCheckpoint();
    await tail.stop();
    await publisher.close();
  };
  return { runner, stop: () => shutdown(false), kill: () => shutdown(true) };
}
