/**
 * The operator's console, startable in-process (tests) or from main.ts: bundles the page
 * (esbuild), starts the Kafka tail (read-only, a group of its own), then serves the page, its
 * API and the live notices over HTTP, behind HTTP_TOKEN when set (a login form sets a session
 * cookie derived from it).
 */
import { resolveHttpToken, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { buildPageBundle } from './bundle';
import { LOGIN_PATH, SESSION_COOKIE } from './console.controller';
import { ConsoleData } from './console-data';
import { ConsoleModule } from './console.module';
import { EventTail } from './event-tail';

export interface ConsoleConfig extends ServiceHttpOptions {
  readonly brokers: readonly string[];
  /** 0 = any free port */
  readonly httpPort: number;
  readonly catalogUrl: string;
  /** service name → base URL, for /metrics (the catalog is added when missing) */
  readonly services: ReadonlyMap<string, string>;
  /** records read back per partition at start for rejections and dead letters (default 200) */
  readonly tail?: number;
  readonly noticeMs?: number;
}

export interface RunningConsole {
  readonly httpUrl: string;
  readonly bundleMs: number;
  stop(): Promise<void>;
}

export async function startConsole(config: ConsoleConfig): Promise<RunningConsole> {
  const bundle = await buildPageBundle();
  const token = resolveHttpToken(config);
  const tail = new EventTail({ brokers: config.brokers, tail: config.tail, noticeMs: config.noticeMs, log: (m) => console.log(`console: ${m}`) });
  await tail.start();
  const services = new Map(config.services);
  if (!services.has('catalog')) services.set('catalog', config.catalogUrl);
  const data = new ConsoleData({ catalogUrl: config.catalogUrl, services, ...(token ? { token } : {}) }, tail);
  try {
    const svc = await runService({
      name: 'console',
      module: ConsoleModule.register({ data, tail, bundle, ...(token ? { token } : {}) }),
      http: { ...config, httpToken: token ?? null, browserLogin: { cookie: SESSION_COOKIE, loginPath: LOGIN_PATH } },
      readiness: [{ name: 'kafka-tail', check: () => (tail.status().ready ? undefined : (tail.status().error ?? 'starting')) }],
    });
    return { httpUrl: svc.httpUrl!, bundleMs: bundle.builtInMs, stop: svc.stop };
  } catch (e) {
    await tail.stop();
    throw e;
  }
}
