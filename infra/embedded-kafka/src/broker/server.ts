import * as net from 'node:net';
import * as tls from 'node:tls';
import { SaslSession } from '../auth/sasl-session';
import { MalformedRequestError } from '../errors';
import { API_BY_KEY } from '../protocol/api-table';
import { ErrorCode } from '../protocol/error-codes';
import { decodeHeader, isFlexibleRequest, peekHeader } from '../protocol/header';
import { Reader } from '../protocol/reader';
import { Writer } from '../protocol/writer';
import { NO_RESPONSE, type BrokerContext, type RequestContext } from './context';
import { HANDLERS } from './handler-table';

/**
 * The TCP (or TLS) side: int32 length-prefixed frames, one request per frame. Responses leave
 * each connection in request order even when a handler waits (long-poll fetch, parked
 * join/sync): every request takes a slot in the connection's queue, and the queue is drained
 * from its head as slots complete. A frame longer than `maxFrameBytes` or shorter than a
 * header, a request that does not follow its grammar, or a handler fault closes that
 * connection only.
 *
 * With SASL on, a connection starts unauthenticated (see auth/sasl-session.ts): its frames are
 * capped at 512 KiB (Kafka's sasl.server.max.receive.size), only ApiVersions and the SASL
 * requests are served, anything else closes it, and it must authenticate within
 * AUTH_TIMEOUT_MS. After a v0 SaslHandshake the frames are bare SASL tokens, answered in kind.
 */
export interface ServerOptions {
  readonly maxFrameBytes: number;
  /** TLS listener settings (node:tls); absent: plain TCP. */
  readonly tls?: tls.TlsOptions;
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
  /** Close the connection once this slot's response is written. */
  closeAfter: boolean;
}

const API_VERSIONS_KEY = 18;
const UNAUTHENTICATED_MAX_FRAME = 512 * 1024;
const AUTH_TIMEOUT_MS = 30_000;

export class KafkaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly broker: BrokerContext,
    private readonly opts: ServerOptions,
  ) {
    if (opts.tls) {
      this.server = tls.createServer(opts.tls, (s) => this.accept(s));
      // A client that speaks plaintext to the TLS port, or fails certificate checks.
      this.server.on('tlsClientError', (e, s) => broker.log('warn', `TLS handshake with ${s.remoteAddress ?? '?'} failed: ${e.message}`));
    } else {
      this.server = net.createServer((s) => this.accept(s));
    }
    this.server.on('error', (e) => broker.log('error', `listener: ${e.message}`));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const abort = new AbortController();
    const queue: Slot[] = [];
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let closed = false;
    const clientHost = socket.remoteAddress ?? '';
    const session = this.broker.auth ? new SaslSession(this.broker.auth) : null;
    const connection = { session, tls: socket instanceof tls.TLSSocket };
    const authTimer = session
      ? setTimeout(() => {
          if (!session.authenticated) kill(`not authenticated within ${AUTH_TIMEOUT_MS} ms`);
        }, AUTH_TIMEOUT_MS).unref()
      : undefined;

    const kill = (why: string) => {
      if (closed) return;
      closed = true;
      this.broker.log('warn', `closing connection from ${clientHost}:${socket.remotePort}: ${why}`);
      socket.destroy();
    };
    socket.on('close', () => {
      closed = true;
      clearTimeout(authTimer);
      this.sockets.delete(socket);
      abort.abort();
    });
    socket.on('error', () => undefined); // 'close' follows; a vanished client is not a broker fault

    const drain = () => {
      if (closed) return;
      let corked = false;
      while (queue.length > 0 && queue[0].done) {
        const slot = queue.shift()!;
        if (!slot.chunks) continue;
        if (!corked) {
          socket.cork();
          corked = true;
        }
        for (const c of slot.chunks) socket.write(c);
        if (slot.closeAfter) {
          // the response goes out, then the connection ends (failed authentication and the like)
          closed = true;
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref();
          break;
        }
      }
      if (corked) socket.uncork();
    };

    /**
     * Frames that arrive while an authentication step is being checked wait here (as Kafka
     * reads one request at a time while authenticating) and are taken in order once it is
     * decided, as requests or tokens according to the state it left.
     */
    const held: Buffer[] = [];
    const release = () => {
      while (held.length > 0 && !closed && !session?.busy) onFrame(held.shift()!);
    };

    /** A bare SASL token after a v0 handshake: answered with a bare token, or the connection closes. */
    const onToken = (token: Buffer) => {
      const slot: Slot = { done: false, chunks: null, closeAfter: false };
      queue.push(slot);
      session!.step(token).then(
        (r) => {
          if (r.kind === 'failure') {
            this.broker.log('warn', `SASL authentication from ${clientHost} failed: ${r.reason}`);
            kill('SASL authentication failed');
            return;
          }
          if (r.kind === 'success') this.broker.log('info', `${clientHost} authenticated as ${r.principal}`);
          const size = Buffer.allocUnsafe(4);
          size.writeInt32BE(r.token.length, 0);
          slot.chunks = [size, r.token];
          slot.done = true;
          drain();
          release();
        },
        (e: unknown) => {
          this.broker.log('error', `SASL fault: ${(e as Error)?.stack ?? String(e)}`);
          kill('internal error during authentication');
        },
      );
    };

    const onFrame = (frame: Buffer) => {
      if (session && !session.authenticated) {
        if (session.busy) {
          if (held.length >= 16) kill('too many frames pipelined behind an authentication step');
          else held.push(frame);
          return;
        }
        if (session.state === 'raw') return onToken(frame);
        const apiKey = frame.length >= 2 ? frame.readInt16BE(0) : -1;
        if (!session.allows(apiKey)) {
          kill(`${API_BY_KEY.get(apiKey)?.name ?? `api ${apiKey}`} before SASL authentication (state ${session.state})`);
          return;
        }
      }
      const slot: Slot = { done: false, chunks: null, closeAfter: false };
      queue.push(slot);
      const ctx = { clientHost, signal: abort.signal, connection, closeAfterResponse: () => (slot.closeAfter = true) };
      this.handle(frame, ctx).then(
        (chunks) => {
          slot.chunks = chunks;
          slot.done = true;
          try {
            drain();
          } catch (e) {
            kill(`write failed: ${(e as Error).message}`);
          }
          if (held.length > 0) release();
        },
        (e: unknown) => {
          if (closed) return; // the client left (or the broker stopped) while this request was parked
          if (e instanceof MalformedRequestError) kill(`malformed request: ${e.message}`);
          else {
            this.broker.log('error', `handler fault: ${(e as Error)?.stack ?? String(e)}`);
            kill('internal error while handling a request');
          }
        },
      );
    };

    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= 4) {
        if (closed) return;
        const size = readSize(pending);
        const unauthenticated = session !== null && !session.authenticated;
        const max = unauthenticated ? Math.min(UNAUTHENTICATED_MAX_FRAME, this.opts.maxFrameBytes) : this.opts.maxFrameBytes;
        const min = unauthenticated && session.state === 'raw' ? 0 : 8;
        if (size < min || size > max) {
          kill(`frame size ${size} outside ${min}..${max}${unauthenticated ? ' before authentication' : ''}`);
          return;
        }
        if (pendingBytes < 4 + size) break;
        const frame = take(pending, 4 + size).subarray(4);
        pendingBytes -= 4 + size;
        onFrame(frame);
      }
    });
  }

  /** Decodes, dispatches and encodes one request; returns the response frame chunks (null: none). */
  private async handle(
    frame: Buffer,
    conn: Pick<RequestContext, 'clientHost' | 'signal' | 'connection' | 'closeAfterResponse'>,
  ): Promise<Buffer[] | null> {
    const { clientHost } = conn;
    const { apiKey, apiVersion, correlationId } = peekHeader(frame);
    const codec = API_BY_KEY.get(apiKey);
    const handler = HANDLERS.get(apiKey);
    if (!codec || !handler || apiVersion < codec.minVersion || apiVersion > codec.maxVersion) {
      this.broker.log('warn', `unsupported api ${apiKey} v${apiVersion} from ${clientHost}`);
      const w = new Writer();
      if (apiKey === API_VERSIONS_KEY && codec) {
        // A too-new ApiVersions is answered in the v0 layout with UNSUPPORTED_VERSION and our
        // ranges, so the client can retry with a version we speak (KIP-511).
        codec.encodeResponse(w, 0, { ...(await handler!(this.broker, {}, { ...conn, version: 0, clientId: '' })), errorCode: ErrorCode.UNSUPPORTED_VERSION });
      } else {
        w.int16(ErrorCode.UNSUPPORTED_VERSION);
      }
      return frameResponse(correlationId, w);
    }
    const r = new Reader(frame);
    const header = decodeHeader(r, isFlexibleRequest(apiKey, apiVersion));
    const req = codec.decodeRequest(r, apiVersion);
    const res = await handler(this.broker, req, { ...conn, version: apiVersion, clientId: header.clientId ?? '' });
    if (res === NO_RESPONSE) return null;
    const w = new Writer();
    codec.encodeResponse(w, apiVersion, res);
    // Response header v0 (correlation id only) for every implemented version: none of them is
    // flexible except ApiVersions v3, whose response header stays v0 by Kafka's rule.
    return frameResponse(correlationId, w);
  }
}

function frameResponse(correlationId: number, body: Writer): Buffer[] {
  const chunks = body.toChunks();
  const head = Buffer.allocUnsafe(8);
  head.writeInt32BE(body.length + 4, 0);
  head.writeInt32BE(correlationId, 4);
  return [head, ...chunks];
}

function readSize(chunks: Buffer[]): number {
  const first = chunks[0];
  if (first.length >= 4) return first.readInt32BE(0);
  return take(chunks, 4, true).readInt32BE(0);
}

/** Removes (or with peek, copies without removing) the first n bytes of the chunk list. */
function take(chunks: Buffer[], n: number, peek = false): Buffer {
  const first = chunks[0];
  if (first.length >= n) {
    if (peek) return first;
    const out = first.subarray(0, n);
    if (first.length === n) chunks.shift();
    else chunks[0] = first.subarray(n);
    return out;
  }
  const out = Buffer.allocUnsafe(n);
  let got = 0;
  let i = 0;
  while (got < n) {
    const c = chunks[i];
    const k = Math.min(c.length, n - got);
    c.copy(out, got, 0, k);
    got += k;
    if (peek) {
      i++;
      continue;
    }
    if (k === c.length) chunks.shift();
    else chunks[0] = c.subarray(k);
  }
  return out;
}
