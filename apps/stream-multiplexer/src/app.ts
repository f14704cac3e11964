/**
 * The stream multiplexer, startable in-process (tests, benchmarks) or from main.ts. Consumes
 * sov.superblocks and sov.commands through its spool transport (offsets committed below the
 * lowest superblock not yet placed), writes volumes under `volumeDir`, publishes sov.events.
 *
 * Started by runService of the service kit (providers initialise first: the state is rebuilt
 * from sov.events and the volumes before anything is consumed; HTTP last: /health, /metrics and
 * /status behind HTTP_TOKEN when set), with the spool as the service's own transport in place of
 * the KafkaEventServer, whose commit-after-handler is what the multiplexer must not do. The
 * spool's consumer is the `transport` check of /health.
 */
import { Logger } from '@nestjs/common';
import { Topic } from '@deltaflow/contracts';
import { contractCodec, runService } from '@deltaflow/service-kit';
import type { StreamMultiplexerConfig } from './config';
import { StreamMultiplexerModule } from './multiplexer.module';
import { StreamMultiplexerService } from './multiplexer.service';
import { SpoolServer } from './spool/spool-server';

export type { StreamMultiplexerConfig, DeviceSpec } from './config';
export { multiplexerDefaults } from './config';

export interface RunningStreamMultiplexer {
  readonly service: StreamMultiplexerService;
  readonly httpUrl?: string;
  stop(): Promise<void>;
}

/** Starts the multiplexer: rebuilds its state from sov.events and the volumes, then consumes. */
export async function startStreamMultiplexer(config: StreamMultiplexerConfig): Promise<RunningStreamMultiplexer> {
  const groupId = config.groupId ?? 'deltaflow.stream-multiplexer';
  const clientId = config.clientId ?? 'stream-multiplexer';
  const logger = new Logger('stream-multiplexer');
  const log = config.log ?? ((m: string) => logger.log(m));
  const svc = await runService({
    name: 'stream-multiplexer',
    module: StreamMultiplexerModule.register({ ...config, groupId }),
    http: config,
    transport: (app) => {
      const service = app.get(StreamMultiplexerService);
      const spool = new SpoolServer({
        brokers: config.brokers,
        clientId,
        groupId,
        assignments: service.assignments,
        ...contractCodec(groupId),
        logger: log,
        onUndecodable: (topic, value, reason) => topic === Topic.sovSuperblocks && service.onUndecodableSuperblock(value, reason),
      });
      service.attachSpool(spool);
      return spool;
    },
  });
  return { service: svc.app.get(StreamMultiplexerService), httpUrl: svc.httpUrl, stop: svc.stop };
}
