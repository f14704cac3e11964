/**
 * The save writer service, startable in-process (tests, launcher) or from main.ts. Consumes
 * dsf.commands (SaveRequested); before the first command it has folded dsf.events, dsf.dlog and
 * the nucleus state of dsf.block-changes (SaveWriterService.onModuleInit). Data sets go to
 * `<dataDir>/datasets/<name>`; the database containers of dbid N are found under the data
 * directory (`databaseDir` of @deltaflow/blockdb) unless `databaseDir` says otherwise.
 */
import { contractCodec, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { SaveWriterModule } from './save-writer.module';
import { SaveWriterService, type SaveWriterConfig } from './save-writer.service';

export type { SaveWriterConfig } from './save-writer.service';

export interface RunningSaveWriter {
  readonly service: SaveWriterService;
  /** /health and /metrics (with httpPort) */
  readonly httpUrl?: string;
  /** stops cleanly: running saves are reported failed */
  stop(): Promise<void>;
  /** stops as if killed: running saves are left unfinished (the next start reports them failed) */
  kill(): Promise<void>;
}

/** Starts the save writer; resolves once it has rebuilt its state and consumes commands. */
export async function startSaveWriter(config: SaveWriterConfig & ServiceHttpOptions): Promise<RunningSaveWriter> {
  const groupId = config.groupId ?? 'deltaflow.save-writer';
  const svc = await runService({
    name: 'save-writer',
    module: SaveWriterModule.register(config),
    http: config,
    kafka: { brokers: config.brokers, clientId: config.clientId ?? 'save-writer', groupId, ...contractCodec(groupId) },
  });
  const service = svc.app.get(SaveWriterService);
  return {
    service,
    httpUrl: svc.httpUrl,
    stop: svc.stop,
    kill: () => {
      service.simulateCrash();
      return svc.stop();
    },
  };
}
