/**
 * Starts a Deltaflow service: a NestJS application with the Kafka event transport and,
 * when configured, an HTTP listener (health and queries). Stops cleanly on SIGINT/SIGTERM
 * and when the launcher that forked it goes away, so no service outlives `npm start`.
 */
import { INestApplication, Logger, Type } from '@nestjs/common';
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

/** Creates, wires and starts one service; returns a handle that stops it. */
export async function runService(opts: RunServiceOptions): Promise<RunningService> {
  const logger = new Logger(opts.name);
  const app = await NestFactory.create(opts.module, { logger: ['error', 'warn', 'log'], abortOnError: false });
  app.enableShutdownHooks();
  if (opts.kafka) {
    app.connectMicroservice({ strategy: new KafkaEventServer({ ...opts.kafka, logger: (m) => logger.log(m) }) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  let httpUrl: string | undefined;
  if (opts.httpPort !== undefined) {
    await app.listen(opts.httpPort, '127.0.0.1');
    const addr = app.getHttpServer().address();
    httpUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : opts.httpPort}`;
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
