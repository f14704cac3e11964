/**
 * The console's HTTP side (thin): the page and its assets, the login form (with HTTP_TOKEN), the
 * JSON the page reads (/api/state live or as of a point, /api/health) and /api/events, a
 * Server-Sent Events stream of "changed" notices from the Kafka tail.
 */
import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { sessionCookieValue, tokenMatches } from '@deltaflow/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PageBundle } from './bundle';
import { ConsoleData, UpstreamError } from './console-data';
import type { EventTail } from './event-tail';
import { CONTENT_SECURITY_POLICY, loginHtml, pageHtml } from './page';

export const CONSOLE_DEPS = Symbol('CONSOLE_DEPS');
export const SESSION_COOKIE = 'deltaflow_console';
export const LOGIN_PATH = '/login';

export interface ConsoleDeps {
  readonly data: ConsoleData;
  readonly tail: EventTail;
  readonly bundle: PageBundle;
  /** the HTTP_TOKEN in force, if any */
  readonly token?: string;
  /** heartbeat comment on the SSE stream (default 15 s) */
  readonly heartbeatMs?: number;
}

type Response = ServerResponse & { status(code: number): Response; type(t: string): Response; send(body: string): void; redirect(code: number, url: string): void };

function send(res: Response, type: string, body: string, cache = 'no-store'): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', cache);
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.end(body);
}

/** `offset` / `sovOffset` / `time` → the catalog's /at query; none → live. Bad input: 400 naming it. */
export function asOfQueryOf(q: { offset?: unknown; sovOffset?: unknown; time?: unknown }): string | undefined {
  const digits = (name: string, v: unknown) => {
    if (typeof v !== 'string' || !/^\d{1,19}$/.test(v)) throw new BadRequestException(`${name}: expected a whole number (an offset), got ${JSON.stringify(v).slice(0, 60)}`);
    return v;
  };
  if (q.offset !== undefined && q.time !== undefined) throw new BadRequestException('offset or time, not both');
  if (q.offset !== undefined) return `offset=${digits('offset', q.offset)}${q.sovOffset !== undefined ? `&sovOffset=${digits('sovOffset', q.sovOffset)}` : ''}`;
  if (q.sovOffset !== undefined) throw new BadRequestException('sovOffset: only with offset');
  if (q.time !== undefined) {
    if (typeof q.time !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(q.time) || !Number.isFinite(Date.parse(q.time)))
      throw new BadRequestException(`time: expected an ISO date and time (2025-01-31T12:00:00Z), got ${JSON.stringify(q.time).slice(0, 60)}`);
    return `time=${encodeURIComponent(new Date(Date.parse(q.time)).toISOString())}`;
  }
  return undefined;
}

@Controller()
export class ConsoleController {
  constructor(@Inject(CONSOLE_DEPS) private readonly deps: ConsoleDeps) {}

  @Get()
  page(@Req() req: IncomingMessage, @Res() res: Response): void {
    send(res, 'text/html; charset=utf-8', pageHtml(this.deps.bundle, { loggedIn: this.deps.token !== undefined && !req.headers.authorization }));
  }

  @Get('assets/console.js')
  script(@Res() res: Response): void {
    send(res, 'text/javascript; charset=utf-8', this.deps.bundle.js, 'private, max-age=3600');
  }

  @Get('assets/console.css')
  style(@Res() res: Response): void {
    send(res, 'text/css; charset=utf-8', this.deps.bundle.css, 'private, max-age=3600');
  }

  @Get('login')
  loginForm(@Res() res: Response): void {
    if (this.deps.token === undefined) return void res.redirect(303, '/');
    send(res, 'text/html; charset=utf-8', loginHtml({}));
  }

  @Post('login')
  login(@Body() body: { token?: unknown } | undefined, @Req() req: IncomingMessage, @Res() res: Response): void {
    const token = this.deps.token;
    if (token === undefined) return void res.redirect(303, '/');
    const given = typeof body?.token === 'string' ? body.token.trim() : '';
    if (!given || !tokenMatches(token, given)) {
      res.statusCode = 401;
      return send(res, 'text/html; charset=utf-8', loginHtml({ error: given ? 'That is not this system\'s HTTP_TOKEN.' : 'Enter the token.' }));
    }
    const secure = (req.socket as { encrypted?: boolean }).encrypted || req.headers['x-forwarded-proto'] === 'https';
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${sessionCookieValue(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    res.redirect(303, '/');
  }

  @Post('logout')
  @HttpCode(303)
  logout(@Res() res: Response): void {
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    res.redirect(303, LOGIN_PATH);
  }

  /** Live, or as of `offset` (+ `sovOffset`) or `time`: the same shape either way. */
  @Get('api/state')
  async state(@Query() q: Record<string, unknown>) {
    const asOf = asOfQueryOf(q);
    try {
      return asOf === undefined ? await this.deps.data.live() : await this.deps.data.asOf(asOf);
    } catch (e) {
      if (e instanceof UpstreamError && e.status === 400) throw new BadRequestException(e.message);
      throw e;
    }
  }

  @Get('api/health')
  health() {
    return this.deps.data.health();
  }

  /** text/event-stream: `changed` {topics, positions} as events arrive; a comment line as heartbeat. */
  @Get('api/events')
  events(@Req() req: IncomingMessage, @Res() res: Response): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    let id = 0;
    const write = (event: string, data: unknown) => res.write(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    write('hello', { positions: this.deps.tail.positionsNow(), tail: this.deps.tail.status() });
    const off = this.deps.tail.onChange((n) => write('changed', n));
    const beat = setInterval(() => res.write(': ping\n\n'), this.deps.heartbeatMs ?? 15_000);
    const close = () => {
      off();
      clearInterval(beat);
    };
    req.on('close', close);
    res.on('close', close);
  }
}
