/**
 * Starts a Deltaflow service: a NestJS application with the Kafka event transport and,
 * when configured, an HTTP listener (health and queries). Stops cleanly on SIGINT/SIGTERM
 * and when the launcher that forked it goes away, so no service outlives `npm start`.
 */
import { ConsoleLogger, INestApplication, Logger, type DynamicModule, type LogLevel, type Type } from '@nestjs/common';
import { ServiceKitError } from './errors';
import { NestFactory } from '@nestjs/core';
import { loadServiceConfig, type ServiceConfig } from './config/service-config';
import { Assignments } from './kafka/assignments';
import { KafkaEventServer, KafkaEventServerOptions } from './kafka/kafka-event-server';

export interface RunServiceOptions {
  name: string;
  module: Type<unknown> | DynamicModule;
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

/**
 * Creates, wires and starts one service; returns a handle that stops it. The module's providers
 * initialise first (onModuleInit: connect, rebuild state from the log), and only then does the
 * Kafka transport start consuming; the HTTP listener opens last. `stop` runs the shutdown hooks
 * (beforeApplicationShutdown while the transport still runs, onApplicationShutdown after it stopped).
 */
export async function runService(opts: RunServiceOptions): Promise<RunningService> {
  const logger = new Logger(opts.name);
  const app = await NestFactory.create(opts.module, { logger: serviceLogger(), abortOnError: false });
  try {
    await app.init();
    if (opts.kafka) {
      const transport = new KafkaEventServer({ ...opts.kafka, assignments: providedAssignments(app), logger: (m) => logger.log(m) });
      app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
      await app.startAllMicroservices();
      // ready once the group assigned this instance its partitions and their state is rebuilt
      await transport.ready();
    }
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  let httpUrl: string | undefined;
  if (opts.httpPort !== undefined) {
    // loopback unless told otherwise (HTTP_HOST=0.0.0.0 in a container)
    const host = process.env.HTTP_HOST || '127.0.0.1';
    await app.listen(opts.httpPort, host);
    const addr = app.getHttpServer().address();
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    httpUrl = `http://${shown}:${typeof addr === 'object' && addr ? addr.port : opts.httpPort}`;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= app.close());
  return { app, httpUrl, stop };
}

/** The module's Assignments provider (the one its providers listen to), if it has one. */
function providedAssignments(app: INestApplication): Assignments | undefined {
  try {
    return app.get(Assignments, { strict: false });
  } catch {
    return undefined; // a service without per-partition state
  }
}

/** What a service's start function returns: a way to stop it, and what to say when it is ready. */
export interface StartedService {
  readonly httpUrl?: string;
  /** a few words for the ready line, e.g. where its data sets go */
  readonly describe?: string;
  stop(): Promise<void>;
}

/**
 * The whole of a service's main.ts: read the configuration from the environment, start the
 * service, report readiness (a line on stdout and, when forked by the launcher, an IPC
 * message), and stop cleanly on SIGINT/SIGTERM or when the launcher that forked it is gone.
 * A start-up failure is printed and exits 1.
 */
export function serviceMain(name: string, start: (config: ServiceConfig) => Promise<StartedService>): void {
  const run = async () => {
    const svc = await start(loadServiceConfig(name));
    console.log(`${name} ready${svc.httpUrl ? ` on ${svc.httpUrl}` : ''}${svc.describe ? ` (${svc.describe})` : ''}`);
    process.send?.({ type: 'ready', service: name, httpUrl: svc.httpUrl });
    let exiting = false;
    const exit = (code: number) => {
      if (exiting) return;
      exiting = true;
      svc.stop().then(
        () => process.exit(code),
        (err) => {
          console.error(`${name}: stopping failed: ${(err as Error)?.message ?? err}`);
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => exit(0));
    process.once('SIGTERM', () => exit(0));
    // Forked by the launcher: when its IPC channel closes, the launcher is gone.
    if (process.send) process.once('disconnect', () => exit(0));
  };
  run().catch((err) => {
    console.error(`${name}: ${(err as Error)?.message ?? err}`);
    process.exit(1);
  });
}

/** DATABASE_URL of a service that needs PostgreSQL; CONFIG error when unset. */
export function requireDatabaseUrl(config: ServiceConfig): string {
  if (!config.databaseUrl) throw new ServiceKitError('CONFIG', 'DATABASE_URL: required (postgres://user:password@host:port/database)');
  return config.databaseUrl;
}
