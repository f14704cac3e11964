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

const encodeRequest = require('kafkajs/src/protocol/request');
const offsetCommitRequestV2 = require('kafkajs/src/protocol/requests/offsetCommit/v2/request');
const offsetCommitResponseV2 = require('kafkajs/src/protocol/requests/offsetCommit/v2/response');

/** OffsetCommit v2 outside group management (generation -1, no member), as kafkajs encodes it; returns the partition error code. */
export async function commitStandalone(port: number, groupId: string, topic: string, offset: number): Promise<number> {
  const request = offsetCommitRequestV2({ groupId, groupGenerationId: -1, memberId: '', retentionTime: -1, topics: [{ topic, partitions: [{ partition: 0, offset: String(offset) }] }] });
  const encoded: Buffer = (await encodeRequest({ correlationId: 3, clientId: 'commit', request })).buffer;
  const { responses } = await rawExchange(port, encoded, { frames: 1 });
  return (await offsetCommitResponseV2.decode(responses[0].subarray(4))).responses[0].partitions[0].errorCode;
}
