/**
 * A lean Kafka producer for one job: appending large records (256 KiB superblocks) to one
 * topic-partition with acks=-1, several requests in flight on one connection. It speaks the real
 * protocol — Produce v3 (non-flexible, every Kafka since 0.11 and this repo's embedded broker take
 * it) carrying one RecordBatch v2 (magic 2, CRC-32C, no compression, no idempotence: producerId -1)
 * — and writes each request as header + the callers' own payload buffers in one writev, so a
 * payload byte is never copied or zero-filled before the kernel takes it.
 *
 * Why hand-written: kafkajs encodes a 2 MiB request by growing zero-filled buffers and copying every
 * record byte at least twice (record encoder, batch encoder, request encoder): a profile of 256 KiB
 * records shows Buffer.alloc, Buffer copies and the garbage collector as ~60 % of the client's CPU,
 * which caps it near a tenth of loopback TCP. librdkafka (node-rdkafka) avoids that but needs a
 * native build at install time, which this repo does not allow. Everything not on the produce hot
 * path stays with kafkajs: cluster and leader discovery (its admin client's Metadata), the
 * partitioner (kafkajs' DefaultPartitioner, so a key lands where a kafkajs producer puts it), and
 * the broker error table (which codes are retriable).
 *
 * Failures: a request that fails retriably (connection lost or timed out, a retriable partition
 * error such as NOT_LEADER_OR_FOLLOWER, whose metadata is then refreshed) is sent again on a fresh
 * connection, up to `retries` times with a growing pause; anything else rejects that send. As with
 * kafkajs without idempotence, a retry may duplicate records or reorder them against requests in
 * flight beside it: callers must tolerate that (the stream multiplexer settles duplicates and
 * reorders within its window). SASL is not spoken: connect() refuses it, and callers use kafkajs.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { crc32c, crc32cCombine } from '@deltaflow/checksum';
import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import { ServiceKitError } from '../errors';

// kafkajs' own table of broker error codes (name, retriable): the lean producer maps errors as kafkajs does
const { createErrorFromCode, staleMetadata } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean; code: number };
  staleMetadata(e: { type: string }): boolean;
};

/** One record: its value in parts (joined they are the value), written without copying the large ones. */
export interface BulkRecord {
  readonly key: string | null;
  readonly value: readonly Uint8Array[];
  /** the CRC-32C of value parts where the caller knows it (same index): the batch CRC then skips those bytes */
  readonly valueCrcs?: readonly (number | undefined)[];
  readonly headers?: Readonly<Record<string, string>>;
}

export interface BulkProducerOptions {
  /** a kafkajs client of the cluster: its admin finds the partition's leader */
  readonly kafka: Kafka;
  readonly clientId: string;
  readonly topic: string;
  /** the partition kafkajs' DefaultPartitioner gives this key (or `partition`) */
  readonly key?: string;
  readonly partition?: number;
  /** TLS to the brokers (as the kafkajs client's `ssl`) */
  readonly ssl?: tls.ConnectionOptions | boolean;
  /** SASL is not spoken here: set means connect() refuses */
  readonly sasl?: unknown;
  /** the broker's time to reach acks=-1, and this side's wait for an answer beyond it (default 30000 ms) */
  readonly requestTimeoutMs?: number;
  /** retries of a retriable failure, per send (default 8) */
  readonly retries?: number;
  /** first pause before a retry, doubled each time up to 5 s (default 100 ms) */
  readonly retryBackoffMs?: number;
}

const PRODUCE = 0;
const PRODUCE_VERSION = 3;
/** parts up to this size are copied into the request's small buffers; larger ones go by reference */
const COPY_BELOW = 4096;

interface Waiter {
  readonly correlationId: number;
  readonly resolve: (r: { errorCode: number; baseOffset: bigint }) => void;
  readonly reject: (e: Error) => void;
}

/** A retriable failure of a request (lost connection, timeout, a retriable broker error). */
class Retriable extends Error {
  constructor(
    message: string,
    readonly staleMetadata = false,
  ) {
    super(message);
  }
}

class Connection {
  readonly waiters: Waiter[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dead: Error | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly timeoutMs: number,
    readonly onDead: (c: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.kill(new Retriable(`connection to the broker failed: ${e.message}`)));
    socket.on('close', () => this.kill(new Retriable('the broker closed the connection')));
  }

  get alive(): boolean {
    return this.dead === null;
  }

  request(chunks: readonly Uint8Array[], correlationId: number): Promise<{ errorCode: number; baseOffset: bigint }> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiters.push({ correlationId, resolve, reject });
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
      this.arm();
    });
  }

  /** The oldest request's answer is due within the timeout (answers come in request order). */
  private arm(): void {
    if (this.timer || this.waiters.length === 0) return;
    this.timer = setTimeout(() => this.kill(new Retriable(`no answer from the broker within ${this.timeoutMs} ms`)), this.timeoutMs);
  }

  kill(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.onDead(this);
  }

  private onData(d: Buffer): void {
    this.pending.push(d);
    this.pendingBytes += d.length;
    while (this.pendingBytes >= 4) {
      const head = this.pending[0].length >= 4 ? this.pending[0] : Buffer.concat(this.pending);
      const size = head.readInt32BE(0);
      if (this.pendingBytes < 4 + size) return;
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      this.onFrame(frame);
      if (this.dead) return;
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.waiters.shift();
    let r: { errorCode: number; baseOffset: bigint };
    try {
      if (!w) throw new Error('an answer to no request');
      const correlationId = frame.readInt32BE(0);
      if (correlationId !== w.correlationId) throw new Error(`answer ${correlationId} where ${w.correlationId} was due`);
      r = parseProduceResponse(frame, 4);
    } catch (e) {
      if (w) this.waiters.unshift(w);
      this.kill(new Retriable(`bad Produce response: ${(e as Error).message}`));
      return;
    }
    w.resolve(r);
    this.arm();
  }
}

/** Produce response v3: [topic [partition error base_offset log_append_time]] throttle; one topic, one partition asked. */
function parseProduceResponse(b: Buffer, at: number): { errorCode: number; baseOffset: bigint } {
  if (b.readInt32BE(at) !== 1) throw new Error(`${b.readInt32BE(at)} topics in the answer, 1 asked`);
  at += 4;
  at += 2 + b.readInt16BE(at);
  if (b.readInt32BE(at) !== 1) throw new Error(`${b.readInt32BE(at)} partitions in the answer, 1 asked`);
  at += 4 + 4; // count, partition index
  return { errorCode: b.readInt16BE(at), baseOffset: b.readBigInt64BE(at + 2) };
}

const zigzag = (n: number) => (n >= 0 ? n * 2 : -n * 2 - 1);

/** Writes a signed varint (zigzag, as record fields use), returns the new offset. */
function varint(b: Buffer, at: number, n: number): number {
  let v = zigzag(n);
  while (v >= 0x80) {
    b[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[at++] = v;
  return at;
}

function varintSize(n: number): number {
  let v = zigzag(n);
  let s = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    s++;
  }
  return s;
}

export class BulkProducer {
  private admin: Admin | null = null;
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private leader: { host: string; port: number } | null = null;
  private correlationId = 0;
  private closed = false;
  private readonly clientId: Buffer;
  private readonly timeoutMs: number;

  private constructor(
    private readonly o: BulkProducerOptions,
    readonly partition: number,
  ) {
    this.clientId = Buffer.from(o.clientId, 'utf8');
    this.timeoutMs = o.requestTimeoutMs ?? 30_000;
  }

  /** Finds the partition (by key, as kafkajs would) and its leader, and connects to it. */
  static async connect(o: BulkProducerOptions): Promise<BulkProducer> {
    if (o.sasl) throw new ServiceKitError('CONFIG', 'the bulk producer speaks no SASL: use the kafkajs producer (SOV_PRODUCER=kafkajs)');
    const admin = o.kafka.admin();
    await admin.connect();
    try {
      const partitions = await partitionsOf(admin, o.topic);
      const partition =
        o.partition ??
        Partitioners.DefaultPartitioner()({ topic: o.topic, partitionMetadata: partitions as never, message: { key: o.key ?? null, value: null } });
      if (!partitions.some((p) => p.partitionId === partition)) throw new ServiceKitError('CONFIG', `topic ${o.topic} has no partition ${partition}`);
      const p = new BulkProducer(o, partition);
      p.admin = admin;
      await p.connection();
      return p;
    } catch (e) {
      await admin.disconnect().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Appends the records as one batch (one Produce request) and resolves with the batch's base
   * offset once the partition's leader acknowledged it (acks=-1). Rejects after the retries, or at
   * once on a non-retriable broker error (e.g. MESSAGE_TOO_LARGE); the records' buffers must stay
   * unchanged until it settles.
   */
  async send(records: readonly BulkRecord[]): Promise<bigint> {
    if (records.length === 0) throw new ServiceKitError('VALIDATION', 'a produce request needs at least one record');
    const body = this.encode(records);
    const retries = this.o.retries ?? 8;
    let pause = this.o.retryBackoffMs ?? 100;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new ServiceKitError('KAFKA', 'the bulk producer is closed');
      try {
        const c = await this.connection();
        const correlationId = (this.correlationId = (this.correlationId + 1) | 0);
        const head = body.head;
        head.writeInt32BE(correlationId, 8);
        const r = await c.request(body.chunks, correlationId);
        if (r.errorCode === 0) return r.baseOffset;
        const e = createErrorFromCode(r.errorCode);
        if (!e.retriable) throw new ServiceKitError('KAFKA', `produce to ${this.o.topic}-${this.partition} refused: ${e.type} (${r.errorCode}): ${e.message}`);
        throw new Retriable(`${e.type} (${r.errorCode})`, staleMetadata(e));
      } catch (e) {
        if (!(e instanceof Retriable)) throw e;
        if (attempt >= retries)
          throw new ServiceKitError('KAFKA', `produce to ${this.o.topic}-${this.partition} failed after ${attempt + 1} attempts: ${e.message}`, true);
        if (e.staleMetadata) {
          this.leader = null;
          this.conn?.kill(new Retriable(`stale metadata: ${e.message}`, true));
        }
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(5000, pause * 2);
      }
    }
  }

  /** Waits for nothing: requests still in flight fail (callers settle theirs first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn?.kill(new ServiceKitError('KAFKA', 'the bulk producer is closed'));
    await this.admin?.disconnect().catch(() => undefined);
  }

  private connection(): Promise<Connection> {
    if (this.conn?.alive) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<Connection> {
    if (!this.leader) this.leader = await this.findLeader();
    const { host, port } = this.leader;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const ssl = this.o.ssl;
      const s = ssl ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...(typeof ssl === 'object' ? ssl : {}) }) : net.connect({ host, port });
      const timer = setTimeout(() => s.destroy(new Error(`connecting to ${host}:${port} timed out`)), this.timeoutMs);
      s.once(ssl ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new Retriable(`cannot connect to ${host}:${port}: ${e.message}`, true));
      });
    });
    const c = new Connection(socket, this.timeoutMs, (dead) => {
      if (this.conn === dead) this.conn = null;
    });
    this.conn = c;
    return c;
  }

  private async findLeader(): Promise<{ host: string; port: number }> {
    try {
      const partitions = await partitionsOf(this.admin!, this.o.topic);
      const p = partitions.find((x) => x.partitionId === this.partition);
      if (!p || p.leader < 0) throw new Retriable(`partition ${this.o.topic}-${this.partition} has no leader`, true);
      const { brokers } = await this.admin!.describeCluster();
      const b = brokers.find((x) => x.nodeId === p.leader);
      if (!b) throw new Retriable(`leader ${p.leader} of ${this.o.topic}-${this.partition} is not among the brokers`, true);
      return { host: b.host, port: b.port };
    } catch (e) {
      if (e instanceof Retriable) throw e;
      throw new Retriable(`metadata: ${(e as Error).message}`, true);
    }
  }

  /**
   * The request: one head buffer (frame size, request header, Produce v3 fields, batch header,
   * the first record's prefix), then per record its large value parts by reference and its small
   * bytes (headers, the next record's prefix) in one buffer. The CRC-32C runs over the chunks.
   */
  private encode(records: readonly BulkRecord[]): { head: Buffer; chunks: Uint8Array[] } {
    const topic = Buffer.from(this.o.topic, 'utf8');
    const now = Date.now();
    // per record: prefix (up to the value), value parts, suffix (headers)
    const pieces: Array<Array<{ bytes: Uint8Array; crc?: number }>> = [];
    let recordsBytes = 0;
    records.forEach((r, i) => {
      const key = r.key === null ? null : Buffer.from(r.key, 'utf8');
      const valueLength = r.value.reduce((n, v) => n + v.length, 0);
      const headers = Object.entries(r.headers ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
      let suffixSize = varintSize(headers.length);
      for (const [k, v] of headers) suffixSize += varintSize(k.length) + k.length + varintSize(v.length) + v.length;
      const bodyAfterLength =
        1 + varintSize(0) + varintSize(i) + (key ? varintSize(key.length) + key.length : varintSize(-1)) + varintSize(valueLength) + valueLength + suffixSize;
      const prefix = Buffer.allocUnsafe(varintSize(bodyAfterLength) + bodyAfterLength - valueLength - suffixSize);
      let at = varint(prefix, 0, bodyAfterLength);
      prefix[at++] = 0; // attributes
      at = varint(prefix, at, 0); // timestampDelta
      at = varint(prefix, at, i); // offsetDelta
      if (key) {
        at = varint(prefix, at, key.length);
        at += key.copy(prefix, at);
      } else at = varint(prefix, at, -1);
      at = varint(prefix, at, valueLength);
      const suffix = Buffer.allocUnsafe(suffixSize);
      let s = varint(suffix, 0, headers.length);
      for (const [k, v] of headers) {
        s = varint(suffix, s, k.length);
        s += k.copy(suffix, s);
        s = varint(suffix, s, v.length);
        s += v.copy(suffix, s);
      }
      pieces.push([{ bytes: prefix }, ...r.value.map((bytes, j) => ({ bytes, crc: r.valueCrcs?.[j] })), { bytes: suffix }]);
      recordsBytes += prefix.length + valueLength + suffix.length;
    });
    const batchBytes = 61 + recordsBytes;
    const requestFixed = 4 + 2 + 2 + 4 + 2 + this.clientId.length + 2 + 2 + 4 + 4 + 2 + topic.length + 4 + 4 + 4;
    const head = Buffer.allocUnsafe(requestFixed + 61);
    let at = 0;
    at = head.writeInt32BE(requestFixed + batchBytes - 4, at); // frame size
    at = head.writeInt16BE(PRODUCE, at);
    at = head.writeInt16BE(PRODUCE_VERSION, at);
    at = head.writeInt32BE(0, at); // correlation id, set per attempt
    at = head.writeInt16BE(this.clientId.length, at);
    at += this.clientId.copy(head, at);
    at = head.writeInt16BE(-1, at); // transactional_id: null
    at = head.writeInt16BE(-1, at); // acks=-1
    at = head.writeInt32BE(this.timeoutMs, at);
    at = head.writeInt32BE(1, at); // topics
    at = head.writeInt16BE(topic.length, at);
    at += topic.copy(head, at);
    at = head.writeInt32BE(1, at); // partitions
    at = head.writeInt32BE(this.partition, at);
    at = head.writeInt32BE(batchBytes, at); // records: BYTES
    const batch = at;
    head.writeBigInt64BE(0n, batch); // baseOffset
    head.writeInt32BE(batchBytes - 12, batch + 8); // batchLength
    head.writeInt32BE(-1, batch + 12); // partitionLeaderEpoch
    head.writeInt8(2, batch + 16); // magic
    head.writeInt16BE(0, batch + 21); // attributes: no compression, CreateTime
    head.writeInt32BE(records.length - 1, batch + 23); // lastOffsetDelta
    head.writeBigInt64BE(BigInt(now), batch + 27); // baseTimestamp
    head.writeBigInt64BE(BigInt(now), batch + 35); // maxTimestamp
    head.writeBigInt64BE(-1n, batch + 43); // producerId: none
    head.writeInt16BE(-1, batch + 51); // producerEpoch
    head.writeInt32BE(-1, batch + 53); // baseSequence
    head.writeInt32BE(records.length, batch + 57); // recordsCount
    // coalesce small parts, keep large ones by reference (with their CRC when known)
    const chunks: Uint8Array[] = [];
    const known: (number | undefined)[] = [];
    const put = (bytes: Uint8Array, crc?: number) => {
      chunks.push(bytes);
      known.push(crc);
    };
    let small: Uint8Array[] = [head];
    for (const p of pieces.flat()) {
      if (p.bytes.length < COPY_BELOW) small.push(p.bytes);
      else {
        if (small.length) put(small.length === 1 ? small[0] : Buffer.concat(small));
        small = [];
        put(p.bytes, p.crc);
      }
    }
    if (small.length) put(small.length === 1 ? small[0] : Buffer.concat(small));
    // the head may have been joined with the first record's prefix: the CRC starts @21 of the batch in it
    const first = chunks[0] as Buffer;
    let crc = crc32c(first, 0, batch + 21, first.length);
    for (let i = 1; i < chunks.length; i++) {
      const k = known[i];
      crc = k === undefined ? crc32c(chunks[i], crc) : crc32cCombine(crc, k, chunks[i].length);
    }
    first.writeUInt32BE(crc >>> 0, batch + 17);
    return { head: first, chunks };
  }
}

async function partitionsOf(admin: Admin, topic: string): Promise<Array<{ partitionId: number; leader: number }>> {
  let meta;
  try {
    meta = await admin.fetchTopicMetadata({ topics: [topic] });
  } catch (e) {
    throw new ServiceKitError('KAFKA', `topic ${topic}: ${(e as Error).message} (it must exist before a bulk producer writes to it)`, true);
  }
  const t = meta.topics.find((x) => x.name === topic);
  if (!t || t.partitions.length === 0) throw new ServiceKitError('KAFKA', `topic ${topic} has no partitions`, true);
  return t.partitions;
}
