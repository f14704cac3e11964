import * as net from 'node:net';

/** Sends raw bytes and collects what comes back until the broker closes or `frames` responses arrived. */
export function rawExchange(
  port: number,
  bytes: Buffer,
  opts: { frames?: number; timeoutMs?: number; destroyAfterWrite?: boolean } = {},
): Promise<{ closedByBroker: boolean; responses: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const responses: Buffer[] = [];
    let settled = false;
    const finish = (closedByBroker: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ closedByBroker, responses });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 3000);
    s.on('connect', () => {
      s.write(bytes);
      if (opts.destroyAfterWrite) finish(false);
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const n = buf.readInt32BE(0);
        responses.push(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
      }
      if (opts.frames !== undefined && responses.length >= opts.frames) finish(false);
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (e) => (settled ? undefined : (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? finish(true) : reject(e)));
  });
}

/** A request frame: size, header v1 (key, version, correlation id, client id) and body. */
export function frame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer, clientId = 'raw'): Buffer {
  const cid = Buffer.from(clientId);
  const head = Buffer.alloc(4 + 2 + 2 + 4 + 2 + cid.length);
  head.writeInt32BE(head.length - 4 + body.length, 0);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(apiVersion, 6);
  head.writeInt32BE(correlationId, 8);
  head.writeInt16BE(cid.length, 12);
  cid.copy(head, 14);
  return Buffer.concat([head, body]);
}
