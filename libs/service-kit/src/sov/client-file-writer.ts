/**
 * Writes one data set to a stream as a client file, "transparently" (seed: SUBSYS=SOV): to its
 * caller a byte sink, write / finish / abort. write() cuts 256 KiB superblocks, computes each
 * one's CRC32C once and publishes them on sov.superblocks (acks=-1, keyed by the stream, several
 * requests in flight, over one or several connections: requests in flight together may land out
 * of order, the multiplexer takes them back in sequence within its reorder window); finish() publishes ClientFileClose with the
 * count, bytes and SHA-256 and resolves only when the multiplexer reported the client file closed
 * (every run placed): a save is complete only when its client file is closed.
 *
 * Superblocks go through the lean bulk producer (BulkProducer: no copies of the payload, its CRC
 * reused for the batch CRC) when the client has one (SOV_PRODUCER=lean, the default without SASL),
 * else through kafkajs; open, close and abort always through kafkajs. A failed request (after the
 * producer's retries) fails the writer: write/finish reject with KAFKA and the caller aborts the
 * client file. Superblocks Kafka acknowledged stay acknowledged; a retried request may land twice
 * or out of order, which the multiplexer settles (duplicates) and reorders (within its window).
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32c } from '@deltaflow/checksum';
import { encodeMessage, encodeSuperblock, encodeSuperblockParts, Topic, type KafkaRecord, type MessageOfType } from '@deltaflow/contracts';
import type { Dsid } from '@deltaflow/dsid';
import type { DataSetSink } from '@deltaflow/save-format';
import type { Producer } from 'kafkajs';
import type { BulkProducer, BulkRecord } from '../kafka/bulk-producer';
import { observeProduced } from '../observability/published-events';
import { SovClientError } from './errors';
import type { ClientFileReport, SovClient } from './sov-client';

export const SUPERBLOCK_BYTES = 256 * 1024;
/** superblocks in one produce request: a record batch under 8 MiB (the embedded broker's max.message.bytes) */
const MAX_PER_REQUEST = 28;

/** A byte sink: what a data-set writer needs of its output (here a client file on a stream). */
export type ByteSink<R = unknown> = DataSetSink<R>;

/** What ClientFileOpen carries. */
export interface OpenClientFile {
  readonly stream: string;
  /** the client file's name (a data set name: safe characters, no slashes) */
  readonly clientFile: string;
  /** a random UUID by default: old and new data of a reused name never mix */
  readonly incarnation?: string;
  readonly dbid?: number;
  readonly dsid?: Dsid;
  readonly kind?: MessageOfType<'ClientFileOpen'>['kind'];
  /** ms since the epoch */
  readonly expiresAt?: number;
  readonly description?: string;
  /** the stream's defaults when absent */
  readonly compression?: MessageOfType<'ClientFileOpen'>['compression'];
  readonly encryption?: MessageOfType<'ClientFileOpen'>['encryption'];
  readonly correlationId?: string;
}

export interface ClientFileWriterOptions {
  /**
   * superblocks per produce request (default 8: 2 MiB; at most 28, a 7 MiB record batch). A request
   * is one record batch: sov.superblocks needs max.message.bytes above it (Kafka's default is 1 MiB).
   */
  readonly superblocksPerRequest?: number;
  /** produce requests in flight (default 4); they may land out of order, which the multiplexer puts right within its reorder window */
  readonly inFlight?: number;
  /** producers (TCP connections) of the client its requests are spread over (default 1) */
  readonly connections?: number;
  /** finish() / abort() give up after this long without the multiplexer's answer (default 0: wait) */
  readonly timeoutMs?: number;
}

/** What finish() reports. */
export interface ClientFileWritten {
  readonly stream: string;
  readonly clientFile: string;
  readonly incarnation: string;
  readonly superblocks: number;
  readonly bytes: number;
  readonly sha256: string;
  /** volumes holding its runs, in order */
  readonly volsers: string[];
  readonly runs: number;
}

export class ClientFileWriter implements ByteSink<ClientFileWritten> {
  private cur: Buffer = Buffer.allocUnsafe(SUPERBLOCK_BYTES);
  private used = 0;
  /** a full superblock held back until more data (or finish) says whether it is the last */
  private held: Buffer | null = null;
  private seq = 0;
  private bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private batch: Array<KafkaRecord | BulkRecord> = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;
  private state: 'open' | 'finishing' | 'finished' | 'aborted' = 'open';
  private readonly perRequest: number;
  private readonly maxInFlight: number;
  private readonly report: ClientFileReport;

  private nextProducer = 0;

  private constructor(
    private readonly client: SovClient,
    private readonly producers: readonly Producer[],
    readonly file: OpenClientFile & { readonly incarnation: string },
    private readonly opts: ClientFileWriterOptions,
    private readonly bulk: readonly BulkProducer[],
  ) {
    this.perRequest = Math.min(MAX_PER_REQUEST, Math.max(1, opts.superblocksPerRequest ?? 8));
    this.maxInFlight = Math.max(1, opts.inFlight ?? 4);
    this.report = client.watch(file.incarnation);
  }

  /** @internal Use SovClient.openClientFile. */
  static async open(
    client: SovClient,
    producers: readonly Producer[],
    f: OpenClientFile & { incarnation: string },
    opts: ClientFileWriterOptions,
    bulk: readonly BulkProducer[] = [],
  ): Promise<ClientFileWriter> {
    const w = new ClientFileWriter(client, producers, f, opts, bulk);
    const open: MessageOfType<'ClientFileOpen'> = {
      type: 'ClientFileOpen',
      stream: f.stream,
      clientFile: f.clientFile,
      incarnation: f.incarnation,
      ...(f.dbid !== undefined ? { dbid: f.dbid } : {}),
      ...(f.dsid !== undefined ? { dsid: f.dsid } : {}),
      ...(f.kind !== undefined ? { kind: f.kind } : {}),
      ...(f.expiresAt !== undefined ? { expiresAt: f.expiresAt } : {}),
      ...(f.description !== undefined ? { description: f.description } : {}),
      ...(f.compression !== undefined ? { compression: f.compression } : {}),
      ...(f.encryption !== undefined ? { encryption: f.encryption } : {}),
      ...(f.correlationId !== undefined ? { correlationId: f.correlationId } : {}),
    };
    await client.send(producers[0], [encodeMessage(open)]);
    return w;
  }

  get incarnation(): string {
    return this.file.incarnation;
  }

  /** Resolves once the multiplexer wrote the open record (ClientFileOpened); rejects if it refused the open. */
  opened(timeoutMs = this.opts.timeoutMs ?? 0): Promise<void> {
    return this.client.until(this.incarnation, (r) => (r.opened ? true : this.refusal(r)), timeoutMs).then(() => undefined);
  }

  private refusal(r: ClientFileReport): undefined {
    if (r.aborted) throw new SovClientError('ABORTED', `client file ${this.file.clientFile} (${this.incarnation}) was aborted by the multiplexer: ${r.aborted.reason}`);
    if (r.refused) throw new SovClientError('REFUSED', `client file ${this.file.clientFile} (${this.incarnation}): ${r.refused.reason} (${r.refused.code})`);
    return undefined;
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    try {
      this.refusal(this.report);
    } catch (e) {
      this.failure = e as Error;
      throw e;
    }
    if (this.state !== 'open') throw new SovClientError('ILLEGAL_STATE', `client file ${this.file.clientFile} is ${this.state}`);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, SUPERBLOCK_BYTES - this.used);
      this.cur.set(chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === SUPERBLOCK_BYTES && off < chunk.length) await this.cut();
    }
    // a full superblock at the end of the chunk waits: only the next write or finish tells if it is the last
    if (this.used === SUPERBLOCK_BYTES) await this.cut();
    // a partial batch goes out while a request slot is free (batches fill only while Kafka is the bottleneck)
    if (this.batch.length && this.inFlight.size < this.maxInFlight) await this.flush();
  }

  /**
   * Resolves once Kafka acknowledged every superblock cut so far (all but the last 256 KiB written,
   * held back until finish or more data says whether it is the last).
   */
  async flushed(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** The current superblock is full: the one held back goes out (not last), this one is held. */
  private async cut(): Promise<void> {
    if (this.held) await this.emit(this.held, false);
    this.held = this.cur;
    this.cur = Buffer.allocUnsafe(SUPERBLOCK_BYTES);
    this.used = 0;
  }

  private async emit(payload: Buffer, last: boolean): Promise<void> {
    const crc = crc32c(payload);
    const sb = { stream: this.file.stream, clientFile: this.file.clientFile, incarnation: this.incarnation, seq: this.seq++, last, payload, crc };
    if (this.bulk.length) {
      // [envelope head, payload]: the payload is written as it is, its CRC reused for the batch CRC
      const r = encodeSuperblockParts(sb);
      this.batch.push({ key: r.key, value: r.value, valueCrcs: [undefined, crc], headers: r.headers });
    } else this.batch.push(encodeSuperblock(sb));
    if (this.batch.length >= this.perRequest || last) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const i = this.nextProducer++;
    const sent = this.bulk.length
      ? this.bulk[i % this.bulk.length].send(records as BulkRecord[]).then(() => observeProduced(Topic.sovSuperblocks, records.map((r) => ({ headers: r.headers }))))
      : this.client.send(this.producers[i % this.producers.length], records as KafkaRecord[]);
    const p: Promise<void> = sent.then(
      () => void this.inFlight.delete(p),
      (e) => {
        this.inFlight.delete(p);
        // later requests may still succeed: the multiplexer then sees a gap and aborts the file
        this.failure ??= new SovClientError('KAFKA', `publishing superblocks of ${this.file.clientFile} failed: ${(e as Error).message}`, true);
      },
    );
    this.inFlight.add(p);
  }

  /**
   * Publishes the last superblock and ClientFileClose; resolves when the multiplexer reported the
   * client file closed, every run placed. Rejects if it aborted or refused the file.
   */
  async finish(): Promise<ClientFileWritten> {
    this.assertOpen();
    this.state = 'finishing';
    try {
      if (this.held && this.used === 0) await this.emit(this.held, true);
      else {
        if (this.held) await this.emit(this.held, false);
        await this.emit(this.cur.subarray(0, this.used), true);
      }
      this.held = null;
      await this.flush();
      await Promise.all(this.inFlight);
      if (this.failure) throw this.failure;
      const sha256 = this.hash.digest('hex');
      await this.client.send(this.producers[0], [
        encodeMessage({
          type: 'ClientFileClose',
          stream: this.file.stream,
          clientFile: this.file.clientFile,
          incarnation: this.incarnation,
          superblocks: this.seq,
          bytes: this.bytes,
          sha256,
          ...(this.file.correlationId ? { correlationId: this.file.correlationId } : {}),
        }),
      ]);
      const closed = await this.client.until(this.incarnation, (r) => r.closed ?? this.refusal(r), this.opts.timeoutMs ?? 0);
      if (closed.sha256 !== sha256 || closed.superblocks !== this.seq || closed.bytes !== this.bytes)
        throw new SovClientError('CONFLICT', `client file ${this.file.clientFile} closed with ${closed.superblocks} superblocks, ${closed.bytes} bytes, SHA-256 ${closed.sha256}; written ${this.seq}, ${this.bytes}, ${sha256}`);
      const runs = [...this.report.runs].sort((a, b) => a.firstSeq - b.firstSeq);
      const volsers: string[] = [];
      for (const r of runs) if (volsers[volsers.length - 1] !== r.volser) volsers.push(r.volser);
      this.state = 'finished';
      return { stream: this.file.stream, clientFile: this.file.clientFile, incarnation: this.incarnation, superblocks: this.seq, bytes: this.bytes, sha256, volsers, runs: runs.length };
    } catch (e) {
      this.state = 'aborted';
      throw e;
    } finally {
      this.client.unwatch(this.incarnation);
    }
  }

  /** Gives the client file up (ClientFileAbort); resolves once the multiplexer recorded it aborted. */
  async abort(reason: string): Promise<void> {
    if (this.state === 'finished' || this.state === 'aborted') return;
    this.state = 'aborted';
    await Promise.allSettled(this.inFlight);
    try {
      await this.client.send(this.producers[0], [
        encodeMessage({ type: 'ClientFileAbort', stream: this.file.stream, clientFile: this.file.clientFile, incarnation: this.incarnation, reason: reason.slice(0, 4000) || 'aborted' }),
      ]);
      await this.client.until(this.incarnation, (r) => (r.aborted || r.refused ? true : undefined), this.opts.timeoutMs ?? 0);
    } finally {
      this.client.unwatch(this.incarnation);
    }
  }
}
