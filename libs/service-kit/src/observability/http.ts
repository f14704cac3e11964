/**
 * The HTTP side every Deltaflow service shares, registered by runService (and by `serveHttp` for a
 * process without a Nest application of its own, the reference nucleus):
 *
 *   GET /health        200 {status: 'ok', service, uptimeSeconds, checks} when live and ready,
 *                      503 {status: 'unavailable', reason, checks} otherwise
 *   GET /health/ready  the readiness checks alone (readiness probe)
 *   GET /health/live   200 while the process serves (liveness probe: Kafka or PostgreSQL being down
 *                      does not fail it; only a transport that crashed for good does)
 *   GET /metrics       Prometheus text (the process's registry)
 *
 * With a token (HTTP_TOKEN or HTTP_TOKEN_FILE), every request but /health/live needs
 * `Authorization: Bearer <token>`, the service's own routes included (the catalog's queries).
 * A service a browser uses (the console) also accepts a session cookie derived from the token
 * (`browserLogin`): its login path is open, and a page request without the token is sent there.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Header, Inject, Module, Res, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ServiceKitError } from '../errors';
import { HealthService, type HealthReport } from './health';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics';

export const OBSERVABILITY_OPTIONS = Symbol('OBSERVABILITY_OPTIONS');

export interface ObservabilityOptions {
  /** the service's name, in the health answers */
  readonly service: string;
}

/** What the controllers need of a response (Express's). */
interface StatusResponse {
  status(code: number): unknown;
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthService,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ObservabilityOptions,
  ) {}

  @Get()
  async all(@Res({ passthrough: true }) res: StatusResponse) {
    return this.answer(res, await this.health.all());
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) res: StatusResponse) {
    return this.answer(res, await this.health.ready());
  }

  @Get('live')
  async live(@Res({ passthrough: true }) res: StatusResponse) {
    const r = await this.health.live();
    res.status(r.ok ? 200 : 503);
    // no reasons here: this path answers without the token
    return r.ok ? { status: 'ok' } : { status: 'down', failing: Object.keys(r.checks).filter((k) => r.checks[k].status !== 'ok') };
  }

  private answer(res: StatusResponse, r: HealthReport) {
    res.status(r.ok ? 200 : 503);
    const uptimeSeconds = Math.round((Date.now() - this.health.startedAt) / 1000);
    return r.ok
      ? { status: 'ok', service: this.options.service, uptimeSeconds, checks: r.checks }
      : { status: 'unavailable', service: this.options.service, reason: r.reason, uptimeSeconds, checks: r.checks };
  }
}

@Controller('metrics')
export class MetricsController {
  @Get()
  @Header('Content-Type', METRICS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  metrics(): Promise<string> {
    return metricsText();
  }
}

/** /health, /health/live, /health/ready and /metrics; HealthService for the app's providers (global). */
@Module({})
export class ObservabilityModule {
  static register(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers: [{ provide: OBSERVABILITY_OPTIONS, useValue: options }, HealthService],
      exports: [HealthService],
    };
  }
}

// ---------------------------------------------------------------------------------------
// The token

/** Tokens shorter than this are refused at start: a guessable token is no protection. */
export const MIN_TOKEN_LENGTH = 16;

/** HTTP_TOKEN, else the first line of HTTP_TOKEN_FILE; undefined when neither is set. CONFIG error on a bad one. */
export function httpTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let token = env.HTTP_TOKEN;
  let from = 'HTTP_TOKEN';
  if ((token === undefined || token === '') && env.HTTP_TOKEN_FILE) {
    from = `HTTP_TOKEN_FILE (${env.HTTP_TOKEN_FILE})`;
    try {
      token = fs.readFileSync(env.HTTP_TOKEN_FILE, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new ServiceKitError('CONFIG', `HTTP_TOKEN_FILE: cannot read ${env.HTTP_TOKEN_FILE}: ${(e as Error).message}`);
    }
  }
  if (token === undefined || token === '') return undefined;
  token = token.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ServiceKitError('CONFIG', `${from}: expected a token of at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
  }
  return token;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The one path answered without the token (a liveness probe carries no secret). */
const OPEN_PATHS = new Set(['/health/live']);

function pathOf(url: string | undefined): string {
  const raw = (url ?? '/').split('?')[0];
  const p = raw.replace(/\/+$/, '').toLowerCase();
  return p === '' ? '/' : p;
}

/** Whether `candidate` is `token`, in constant time (SHA-256 of both, timingSafeEqual). */
export function tokenMatches(token: string, candidate: string): boolean {
  return timingSafeEqual(digest(candidate), digest(token));
}

/**
 * The value of a browser session cookie for `token`: a digest of it, so the cookie (kept by the
 * browser, possibly on disk) is not the token itself; it stays valid until the token changes.
 */
export function sessionCookieValue(token: string): string {
  return createHash('sha256').update(`deltaflow-session\0${token}`, 'utf8').digest('hex');
}

/** The named cookie of a Cookie header, or undefined. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** A browser's way in (the console): a login path answered without the token, and the session cookie it sets. */
export interface BrowserLogin {
  /** the cookie holding `sessionCookieValue(token)` */
  readonly cookie: string;
  /** the login form (open); a GET for a page (Accept: text/html) without the token is redirected here */
  readonly loginPath: string;
}

/**
 * Connect/Express middleware: every request but /health/live must carry `Authorization: Bearer
 * <token>` (or, with `login`, its session cookie); compared in constant time (SHA-256 of both,
 * timingSafeEqual). 401 otherwise, with a JSON body saying what is missing.
 */
export function bearerAuth(token: string, login?: BrowserLogin): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const expected = digest(token);
  const session = login ? digest(sessionCookieValue(token)) : undefined;
  const loginPath = login ? pathOf(login.loginPath) : undefined;
  return (req, res, next) => {
    const p = pathOf(req.url);
    if (OPEN_PATHS.has(p) || p === loginPath) return next();
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
    if (m && timingSafeEqual(digest(m[1]), expected)) return next();
    if (login && session && !header) {
      const c = cookieOf(req.headers.cookie, login.cookie);
      if (c !== undefined && timingSafeEqual(digest(c), session)) return next();
      if (req.method === 'GET' && /text\/html/.test(String(req.headers.accept ?? ''))) {
        res.statusCode = 302;
        res.setHeader('Location', login.loginPath);
        res.setHeader('Cache-Control', 'no-store');
        return void res.end();
      }
    }
    const message = !header
      ? 'this service requires a token: send Authorization: Bearer <token> (the value of its HTTP_TOKEN; dsf sends HTTP_TOKEN when set)'
      : m
        ? 'the bearer token is not this service\'s HTTP_TOKEN'
        : 'Authorization: expected "Bearer <token>"';
    res.statusCode = 401;
    res.setHeader('WWW-Authenticate', `Bearer realm="deltaflow"${header ? ', error="invalid_token"' : ''}`);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(JSON.stringify({ statusCode: 401, error: 'Unauthorized', message }));
  };
}

// ---------------------------------------------------------------------------------------
// Listening

export interface ServiceHttpOptions {
  /** 0 = any free port; undefined = no HTTP listener */
  readonly httpPort?: number;
  /** default HTTP_HOST, else 127.0.0.1 */
  readonly httpHost?: string;
  /** default HTTP_TOKEN / HTTP_TOKEN_FILE; null = none whatever the environment says */
  readonly httpToken?: string | null;
  /** a browser's way in besides the bearer token (the console's login form and session cookie) */
  readonly browserLogin?: BrowserLogin;
}

/** The token a service uses: the option, else the environment's. */
export function resolveHttpToken(o: ServiceHttpOptions | undefined): string | undefined {
  if (o?.httpToken === null) return undefined;
  return o?.httpToken ?? httpTokenFromEnv();
}

/** Installs the token check on a Nest application; before `app.init()`, so it runs ahead of every route. */
export function protectHttp(app: INestApplication, token: string | undefined, login?: BrowserLogin): void {
  if (token !== undefined) app.use(bearerAuth(token, login));
}

/** Listens on the port and host; resolves with the URL to reach it (loopback when bound to every address). */
export async function listenHttp(app: INestApplication, o: ServiceHttpOptions & { httpPort: number }): Promise<string> {
  // loopback unless told otherwise (HTTP_HOST=0.0.0.0 in a container)
  const host = o.httpHost || process.env.HTTP_HOST || '127.0.0.1';
  await app.listen(o.httpPort, host);
  const addr = app.getHttpServer().address();
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${typeof addr === 'object' && addr ? addr.port : o.httpPort}`;
}
