/**
 * Starts a Deltaflow service: a NestJS application with the Kafka event transport and,
 * when configured, an HTTP listener (health and queries). Stops cleanly on SIGINT/SIGTERM
 * and when the launcher that forked it goes away, so no service outlives `npm start`.
 */
import { ConsoleLogger, INestApplication, Logger, Type, type LogLevel } from '@nestjs/common';
import { ServiceKitError } from './errors';
import { NestFactory } from '@nestjs/core';
import { KafkaEventServer, KafkaEventServerOptions } from './kafka/kafka-event-server';

export interface RunServiceOptions {
  name: string;
  module: Type<unknown>;
  /** the Kafka transport; omit for services that only publish */
  kafka?: KafkaEventServerOptions;
  httpPort?: number;
}

export interface RunningService {
  app: INestApplication;
  httpUrl?: string;
  stop(): Promise<void>;
}

/** NestJS's own start-up chatter (module loading, route mapping), shown at DELTAFLOW_LOG_LEVEL=debug only. */
const NEST_BOOT_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication', 'NestMicroservice']);

/** DELTAFLOW_LOG_LEVEL: error | warn | log (default) | debug. */
export function serviceLogger(env: NodeJS.ProcessEnv = process.env): ConsoleLogger {
  const level = env.DELTAFLOW_LOG_LEVEL || 'log';
  const levels: LogLevel[] | undefined = { error: ['error', 'fatal'], warn: ['error', 'fatal', 'warn'], log: ['error', 'fatal', 'warn', 'log'], debug: ['error', 'fatal', 'warn', 'log', 'debug', 'verbose'] }[
    level
  ] as LogLevel[] | undefined;
  if (!levels) throw new ServiceKitError('CONFIG', `DELTAFLOW_LOG_LEVEL: expected error, warn, log or debug, got "${level}"`);
  const quietBoot = level !== 'debug';
  return new (class extends ConsoleLogger {
    override log(message: unknown, context?: string): void {
      if (quietBoot && context !== undefined && NEST_BOOT_CONTEXTS.has(context)) return;
      super.log(message, context);
    }
  })({ logLevels: levels });
}

/** Creates, wires and starts one service; returns a handle that stops it. */
export async function runService(opts: RunServiceOptions): Promise<RunningService> {
  const logger = new Logger(opts.name);
  const app = await NestFactory.create(opts.module, { logger: serviceLogger(), abortOnError: false });
  app.enableShutdownHooks();
  if (opts.kafka) {
    app.connectMicroservice({ strategy: new KafkaEventServer({ ...opts.kafka, logger: (m) => logger.log(m) }) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  let httpUrl: string | undefined;
  if (opts.httpPort !== undefined) {
    // loopback unless told otherwise (HTTP_HOST=0.0.0.0 in a container)
    const host = process.env.HTTP_HOST || '127.0.0.1';
    await app.listen(opts.httpPort, host);
    const addr = app.getHttpServer().address();
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    httpUrl = `http://${shown}:${typeof addr === 'object' && addr ? addr.port : opts.httpPort}`;
  } else {
    await app.init();
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= app.close());
  return { app, httpUrl, stop };
}

/** For a service's main.ts: run it, report readiness, and exit cleanly on signals or when orphaned. */
export async function runServiceMain(opts: RunServiceOptions): Promise<void> {
  const svc = await runService(opts);
  const msg = `${opts.name} ready${svc.httpUrl ? ` on ${svc.httpUrl}` : ''}`;
  console.log(msg);
  process.send?.({ type: 'ready', service: opts.name, httpUrl: svc.httpUrl });
  const exit = async (code: number) => {
    await svc.stop().catch(() => undefined);
    process.exit(code);
  };
  process.once('SIGINT', () => void exit(0));
  process.once('SIGTERM', () => void exit(0));
  // Forked by the launcher: when its IPC channel closes, the launcher is gone.
  if (process.send) process.once('disconnect', () => void exit(0));
}
