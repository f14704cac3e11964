/**
 * Starts a Deltaflow service: a NestJS application with the Kafka event transport and,
 * when configured, an HTTP listener (/health, /metrics and the service's own routes, behind
 * HTTP_TOKEN when set). Stops cleanly on SIGINT/SIGTERM and when the launcher that forked it
 * goes away, so no service outlives `npm start`.
 */
import { Catch, ConsoleLogger, INestApplication, Logger, Module, type ArgumentsHost, type DynamicModule, type LogLevel, type Type } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import { ServiceKitError } from './errors';
import { BaseExceptionFilter, ModuleRef, NestFactory } from '@nestjs/core';
import { loadServiceConfig, type ServiceConfig } from './config/service-config';
import { Assignments } from './kafka/assignments';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { KafkaEventServer, KafkaEventServerOptions } from './kafka/kafka-event-server';
import { HealthService, type HealthCheck } from './observability/health';
import { listenHttp, ObservabilityModule, protectHttp, resolveHttpToken, type ServiceHttpOptions } from './observability/http';

export interface RunServiceOptions {
  name: string;
  module: Type<unknown> | DynamicModule;
  /** the Kafka transport; omit for services that only publish */
  kafka?: KafkaEventServerOptions;
  /**
   * A transport of the service's own instead (the stream multiplexer's spool), made from the
   * initialised app; its `unready()` / `dead()`, when it has them, are the `transport` checks.
   */
  transport?: (app: INestApplication) => CustomTransportStrategy & Partial<TransportHealth>;
  /** HTTP port (0: any free one; undefined: no listener); `http.httpPort` says the same */
  httpPort?: number;
  /** port, host and token of the HTTP listener (an app passes its config: `http: config`) */
  http?: ServiceHttpOptions;
  /**
   * readiness checks beyond the transport's: a check, or a function of the initialised app giving
   * one (`(app) => dataSourceCheck(app.get(DB))`). A check with `close()` is closed at stop.
   */
  readiness?: ReadonlyArray<HealthCheck | ((app: INestApplication) => HealthCheck)>;
}

export interface RunningService {
  app: INestApplication;
  httpUrl?: string;
  /** the service's health (the same answers as GET /health), also without an HTTP listener */
  health: HealthService;
  /** the Kafka transport, when there is one */
  transport?: KafkaEventServer;
  stop(): Promise<void>;
}

/**
 * An event handler's error reaches the transport as thrown: Nest's default RPC exception filter
 * would turn it into {status: 'error', message: 'Internal server error'}, losing the code that
 * makes a rejection (dead letter) differ from a transient failure (retry). HTTP errors keep Nest's
 * default handling.
 */
@Catch()
export class HandlerErrorsToTransport extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'rpc') return throwError(() => exception);
    return super.catch(exception, host);
  }
}

/** What a transport may say about itself (KafkaEventServer does). */
export interface TransportHealth {
  /** why it does not consume now, or undefined */
  unready(): string | undefined;
  /** why it is gone for good (a liveness failure), or undefined */
  dead(): string | undefined;
}

/** The application's module plus the /health and /metrics module. */
@Module({})
class DeltaflowServiceModule {}

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
  if (opts.kafka && opts.transport) throw new ServiceKitError('CONFIG', `${opts.name}: runService takes kafka or transport, not both`);
  const httpPort = opts.http?.httpPort ?? opts.httpPort;
  const token = httpPort !== undefined ? resolveHttpToken(opts.http) : undefined;
  const root: DynamicModule = { module: DeltaflowServiceModule, imports: [opts.module, ObservabilityModule.register({ service: opts.name })] };
  const app = await NestFactory.create(root, { logger: serviceLogger(), abortOnError: false });
  const closers: Array<() => Promise<void>> = [];
  let transport: KafkaEventServer | undefined;
  let health: HealthService;
  let httpUrl: string | undefined;
  try {
    protectHttp(app, token, opts.http?.browserLogin); // ahead of every route: registered before init
    app.useGlobalFilters(new HandlerErrorsToTransport(app.getHttpAdapter())); // shared with the transport (inheritAppConfig)
    await app.init();
    health = app.get(HealthService);
    for (const c of opts.readiness ?? []) {
      const check = typeof c === 'function' ? c(app) : c;
      health.addCheck(check);
      const closable = check as HealthCheck & { close?: () => Promise<void> };
      if (typeof closable.close === 'function') closers.push(() => closable.close!());
    }
    if (opts.kafka) {
      const t = new KafkaEventServer({ ...opts.kafka, assignments: providedAssignments(app), logger: (m) => logger.log(m) });
      transport = t;
      health.addCheck({ name: 'kafka', check: () => t.unready() });
      health.addCheck({ name: 'kafka-live', liveness: true, check: () => t.dead() });
      app.connectMicroservice({ strategy: t }, { inheritAppConfig: true });
      await app.startAllMicroservices();
    } else if (opts.transport) {
      const t = opts.transport(app);
      if (typeof t.unready === 'function') health.addCheck({ name: 'transport', check: () => t.unready!() });
      if (typeof t.dead === 'function') health.addCheck({ name: 'transport-live', liveness: true, check: () => t.dead!() });
      app.connectMicroservice({ strategy: t }, { inheritAppConfig: true });
      await app.startAllMicroservices();
    }
    if (httpPort !== undefined) httpUrl = await listenHttp(app, { ...opts.http, httpPort });
    // ready once the group assigned this instance its partitions and their state is rebuilt
    // (/health/ready says 503 until then; /health/live answers already)
    await transport?.ready();
  } catch (err) {
    await app.close().catch(() => undefined);
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        await app.close();
      } finally {
        for (const c of closers) await c().catch(() => undefined);
      }
    })());
  return { app, httpUrl, health, transport, stop };
}

/**
 * /health and /metrics for a process that has no Nest application of its own (the reference
 * nucleus): the same module, controllers and token check as runService, in an application of
 * their own. `checks` are its readiness (or liveness) checks.
 */
export async function serveHttp(
  o: ServiceHttpOptions & { service: string; httpPort: number; checks?: readonly HealthCheck[] },
): Promise<{ httpUrl: string; health: HealthService; stop(): Promise<void> }> {
  const app = await NestFactory.create(ObservabilityModule.register({ service: o.service }), { logger: serviceLogger(), abortOnError: false });
  try {
    protectHttp(app, resolveHttpToken(o));
    await app.init();
    const health = app.get(HealthService);
    for (const c of o.checks ?? []) health.addCheck(c);
    const httpUrl = await listenHttp(app, o);
    let stopping: Promise<void> | undefined;
    return { httpUrl, health, stop: () => (stopping ??= app.close()) };
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
}

/** The module's Assignments provider (the one its providers listen to), if it has one. */
function providedAssignments(app: INestApplication): Assignments | undefined {
  try {
    // through ModuleRef: a miss on the application itself is logged as an error by Nest
    return app.get(ModuleRef).get(Assignments, { strict: false });
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
