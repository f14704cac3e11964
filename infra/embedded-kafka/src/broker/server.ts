import * as net from 'node:net';
import { MalformedRequestError } from '../errors';
import { API_BY_KEY } from '../protocol/api-table';
import { ErrorCode } from '../protocol/error-codes';
import { decodeHeader, isFlexibleRequest, peekHeader } from '../protocol/header';
import { Reader } from '../protocol/reader';
import { Writer } from '../protocol/writer';
import { NO_RESPONSE, type BrokerContext } from './context';
import { HANDLERS } from './handler-table';

/**
 * The TCP side: int32 length-prefixed frames, one request per frame. Responses leave each
 * connection in request order even when a handler waits (long-poll fetch, parked join/sync):
 * every request takes a slot in the connection's queue, and the queue is drained from its head
 * as slots complete. A frame longer than `maxFrameBytes` or shorter than a header, a request
 * that does not follow its grammar, or a handler fault closes that connection only.
 */
export interface ServerOptions {
  readonly maxFrameBytes: number;
}

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
}

const API_VERSIONS_KEY = 18;

export class KafkaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly broker: BrokerContext,
    private readonly opts: ServerOptions,
  ) {
    this.server = net.createServer((s) => this.accept(s));
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

    const kill = (why: string) => {
      if (closed) return;
      closed = true;
      this.broker.log('warn', `closing connection from ${clientHost}:${socket.remotePort}: ${why}`);
      socket.destroy();
    };
    socket.on('close', () => {
      closed = true;
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
      }
      if (corked) socket.uncork();
    };

    const onFrame = (frame: Buffer) => {
      const slot: Slot = { done: false, chunks: null };
      queue.push(slot);
      this.handle(frame, clientHost, abort.signal).then(
        (chunks) => {
          slot.chunks = chunks;
          slot.done = true;
          try {
            drain();
          } catch (e) {
            kill(`write failed: ${(e as Error).message}`);
          }
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
        const size = readSize(pending);
        if (size < 8 || size > this.opts.maxFrameBytes) {
          kill(`frame size ${size} outside 8..${this.opts.maxFrameBytes}`);
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
  private async handle(frame: Buffer, clientHost: string, signal: AbortSignal): Promise<Buffer[] | null> {
    const { apiKey, apiVersion, correlationId } = peekHeader(frame);
    const codec = API_BY_KEY.get(apiKey);
    const handler = HANDLERS.get(apiKey);
    if (!codec || !handler || apiVersion < codec.minVersion || apiVersion > codec.maxVersion) {
      this.broker.log('warn', `unsupported api ${apiKey} v${apiVersion} from ${clientHost}`);
      const w = new Writer();
      if (apiKey === API_VERSIONS_KEY && codec) {
        // A too-new ApiVersions is answered in the v0 layout with UNSUPPORTED_VERSION and our
        // ranges, so the client can retry with a version we speak (KIP-511).
        codec.encodeResponse(w, 0, { ...(await handler!(this.broker, {}, { version: 0, clientId: '', clientHost, signal })), errorCode: ErrorCode.UNSUPPORTED_VERSION });
      } else {
        w.int16(ErrorCode.UNSUPPORTED_VERSION);
      }
      return frameResponse(correlationId, w);
    }
    const r = new Reader(frame);
    const header = decodeHeader(r, isFlexibleRequest(apiKey, apiVersion));
    const req = codec.decodeRequest(r, apiVersion);
    const res = await handler(this.broker, req, { version: apiVersion, clientId: header.clientId ?? '', clientHost, signal });
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
