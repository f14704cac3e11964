/**
 * The stream multiplexer, startable in-process (tests, benchmarks) or from main.ts. Consumes
 * sov.superblocks and sov.commands through its spool transport (offsets committed below the
 * lowest superblock not yet placed), writes volumes under `volumeDir`, publishes sov.events.
 *
 * Started like runService of the service kit (providers initialise first: the state is rebuilt
 * from sov.events and the volumes before anything is consumed; HTTP last), with the spool in place
 * of the KafkaEventServer, whose commit-after-handler is what the multiplexer must not do.
 */
import { NestFactory } from '@nestjs/core';
import { Logger } from '@nestjs/common';
import { Topic } from '@deltaflow/contracts';
import { contractCodec, serviceLogger } from '@deltaflow/service-kit';
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
  const app = await NestFactory.create(StreamMultiplexerModule.register({ ...config, groupId }), { logger: serviceLogger(), abortOnError: false });
  let httpUrl: string | undefined;
  try {
    await app.init();
    const service = app.get(StreamMultiplexerService);
    const spool = new SpoolServer({
      brokers: config.brokers,
      clientId,
      groupId,
      ...contractCodec(groupId),
      logger: log,
      onUndecodable: (topic, value, reason) => topic === Topic.sovSuperblocks && service.onUndecodableSuperblock(value, reason),
    });
    service.attachSpool(spool);
    app.connectMicroservice({ strategy: spool }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    if (config.httpPort !== undefined) {
      const host = process.env.HTTP_HOST || '127.0.0.1';
      await app.listen(config.httpPort, host);
      const addr = app.getHttpServer().address();
      httpUrl = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${typeof addr === 'object' && addr ? addr.port : config.httpPort}`;
    }
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return { service: app.get(StreamMultiplexerService), httpUrl, stop: () => (stopping ??= app.close()) };
}
