/**
 * The client side of streaming backup: one connection to Kafka shared by every client file a
 * process writes (the save writer, the merge engine, the DSIM builder), and one reader following
 * what the multiplexer reports about them on sov.events (and what it refused, on the dead-letter
 * topics of sov.commands and sov.superblocks).
 *
 *   const sov = await SovClient.connect({ brokers, clientId: 'save-writer' });
 *   const w = await sov.openClientFile({ stream: 'NIGHTLY', clientFile: 'db7-full-42', dbid: 7, kind: 'full' });
 *   await w.write(bytes); …; const written = await w.finish();   // closed and every run placed
 *   await sov.close();
 */
import { randomUUID } from 'node:crypto';
import { decodeFrom, encodeMessage, Topic, type AnyMessage, type MessageOfType, type TopicMessage, type TopicName } from '@deltaflow/contracts';
import type { Kafka, Producer } from 'kafkajs';
import { ServiceKitError } from '../errors';
import { BulkProducer } from '../kafka/bulk-producer';
import { createKafka, kafkaSecurityFromEnv, type KafkaSecurity } from '../kafka/kafka-client';
import { TopicReader } from '../kafka/topic-reader';
import { ClientFileWriter, type ClientFileWriterOptions, type OpenClientFile } from './client-file-writer';
import { SovClientError } from './errors';

export interface SovClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security?: KafkaSecurity;
  /** producers (one TCP connection each): client files are spread over them, and one client file may use several (ClientFileWriterOptions.connections). Default 1 */
  readonly producers?: number;
  /**
   * what carries superblocks: 'lean' (BulkProducer: payloads written uncopied, about 3x kafkajs on
   * 256 KiB records, see test/bench/broker) or 'kafkajs'. Default: SOV_PRODUCER, else 'lean' unless
   * SASL is configured (the lean producer speaks none).
   */
  readonly superblockProducer?: 'lean' | 'kafkajs';
  readonly log?: (msg: string) => void;
}

/** SOV_PRODUCER (lean | kafkajs); CONFIG error for anything else. */
export function superblockProducerFromEnv(env: NodeJS.ProcessEnv = process.env): 'lean' | 'kafkajs' | undefined {
  const v = env.SOV_PRODUCER?.trim().toLowerCase();
  if (!v) return undefined;
  if (v !== 'lean' && v !== 'kafkajs') throw new ServiceKitError('CONFIG', `SOV_PRODUCER: expected lean or kafkajs, got "${env.SOV_PRODUCER}"`);
  return v;
}

/** What the multiplexer reported about one client file. */
export interface ClientFileReport {
  readonly incarnation: string;
  readonly opened: boolean;
  readonly runs: Array<MessageOfType<'RunPlaced'>>;
  closed?: MessageOfType<'ClientFileClosed'>;
  aborted?: MessageOfType<'ClientFileAborted'>;
  /** a command or superblock of the file the multiplexer dead-lettered, with its reason */
  refused?: { readonly code: string; readonly reason: string };
}

interface Watch {
  report: ClientFileReport & { opened: boolean };
  changed: Array<() => void>;
}

type Followed = TopicMessage<'sov.events'> | MessageOfType<'DeadLetter'>;

export class SovClient {
  private readonly producers: Producer[] = [];
  private kafka?: Kafka;
  private security: KafkaSecurity = {};
  /** lean producers by stream and connection number ("stream#i"), made on first use */
  private readonly bulk = new Map<string, Promise<BulkProducer>>();
  private next = 0;
  private reader?: TopicReader<Followed>;
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  private constructor(private readonly o: SovClientOptions) {}

  /** Connects the producers and starts following sov.events from its end. */
  static async connect(o: SovClientOptions): Promise<SovClient> {
    const c = new SovClient(o);
    c.security = o.security ?? kafkaSecurityFromEnv();
    if (c.superblockProducer === 'lean' && c.security.sasl) throw new ServiceKitError('CONFIG', 'SOV_PRODUCER=lean: the lean producer speaks no SASL; use kafkajs');
    const kafka = (c.kafka = createKafka({ clientId: o.clientId, brokers: o.brokers, security: c.security }));
    for (let i = 0; i < Math.max(1, o.producers ?? 1); i++) {
      const p = kafka.producer({ allowAutoTopicCreation: true });
      await p.connect();
      c.producers.push(p);
    }
    c.reader = new TopicReader<Followed>({
      brokers: o.brokers,
      clientId: `${o.clientId}-sov`,
      security: o.security,
      topics: [Topic.sovEvents, 'sov.commands.dlq' as TopicName, 'sov.superblocks.dlq' as TopicName],
      from: 'latest',
      onMessage: (m) => c.observe(m),
      log: o.log,
    });
    await c.reader.start();
    return c;
  }

  /** Opens a client file on a stream (publishes ClientFileOpen); write to the writer returned. */
  async openClientFile(f: OpenClientFile, opts: ClientFileWriterOptions = {}): Promise<ClientFileWriter> {
    if (this.closed) throw new SovClientError('ILLEGAL_STATE', 'the streaming client is closed');
    const incarnation = f.incarnation ?? randomUUID();
    this.watch(incarnation);
    // its requests go over `connections` of the client's producers, starting with the next one
    const first = this.next++;
    const connections = Math.min(this.producers.length, Math.max(1, opts.connections ?? 1));
    const producers = Array.from({ length: connections }, (_, i) => this.producers[(first + i) % this.producers.length]);
    const bulk = this.superblockProducer === 'lean' ? await Promise.all(Array.from({ length: connections }, (_, i) => this.bulkProducer(f.stream, (first + i) % this.producers.length))) : [];
    return ClientFileWriter.open(this, producers, { ...f, incarnation }, opts, bulk);
  }

  /** What carries superblocks (SovClientOptions.superblockProducer). */
  get superblockProducer(): 'lean' | 'kafkajs' {
    return this.o.superblockProducer ?? superblockProducerFromEnv() ?? (this.security.sasl ? 'kafkajs' : 'lean');
  }

  /** The lean producer of a stream's sov.superblocks partition on connection `i`, connected on first use. */
  private bulkProducer(stream: string, i: number): Promise<BulkProducer> {
    const k = `${stream}#${i}`;
    let p = this.bulk.get(k);
    if (!p) {
      p = BulkProducer.connect({ kafka: this.kafka!, clientId: `${this.o.clientId}-bulk`, topic: Topic.sovSuperblocks, key: stream, ssl: this.security.ssl, sasl: this.security.sasl });
      this.bulk.set(k, p);
      // a failed connect is not kept: the next client file tries again
      p.catch(() => this.bulk.delete(k));
    }
    return p;
  }

  /** Publishes sov commands (StreamDefine, DeviceAdd, DeviceRemove, …) with acks=-1. */
  async command(...messages: TopicMessage<'sov.commands'>[]): Promise<void> {
    await this.send(this.producers[0], messages.map((m) => encodeMessage(m as AnyMessage)));
  }

  /** @internal Sends encoded records in one request. */
  async send(producer: Producer, records: ReadonlyArray<{ topic: string; key: string | null; value: Buffer; headers?: Readonly<Record<string, string>> }>): Promise<void> {
    if (records.length === 0) return;
    await producer.send({ topic: records[0].topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })) });
  }

  /** @internal Starts collecting what the multiplexer says about a client file. */
  watch(incarnation: string): ClientFileReport {
    let w = this.watches.get(incarnation);
    if (!w) this.watches.set(incarnation, (w = { report: { incarnation, opened: false, runs: [] }, changed: [] }));
    return w.report;
  }

  /** @internal Stops collecting. */
  unwatch(incarnation: string): void {
    this.watches.delete(incarnation);
  }

  /** Resolves when `done(report)` holds (checked on every report about the file); rejects after `timeoutMs` (0: never). */
  until<T>(incarnation: string, done: (r: ClientFileReport) => T | undefined, timeoutMs = 0): Promise<T> {
    const w = this.watches.get(incarnation);
    if (!w) return Promise.reject(new SovClientError('ILLEGAL_STATE', `client file ${incarnation} is not watched`));
    let now: T | undefined;
    try {
      now = done(w.report);
    } catch (e) {
      return Promise.reject(e);
    }
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        let v: T | undefined;
        try {
          v = done(w.report);
        } catch (e) {
          // the answer is a refusal: it is the waiter's, never the reader's (which would crash)
          w.changed = w.changed.filter((c) => c !== check);
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (v === undefined) return;
        w.changed = w.changed.filter((c) => c !== check);
        clearTimeout(timer);
        resolve(v);
      };
      w.changed.push(check);
      if (timeoutMs > 0)
        timer = setTimeout(() => {
          w.changed = w.changed.filter((c) => c !== check);
          reject(new SovClientError('TIMEOUT', `client file ${incarnation}: no word from the stream multiplexer within ${timeoutMs} ms`, true));
        }, timeoutMs);
    });
  }

  private observe(m: Followed): void {
    let incarnation: string | undefined;
    let apply: ((r: Watch['report']) => void) | undefined;
    switch (m.type) {
      case 'ClientFileOpened':
        incarnation = m.incarnation;
        apply = (r) => (r.opened = true);
        break;
      case 'RunPlaced':
        incarnation = m.incarnation;
        apply = (r) => r.runs.push(m);
        break;
      case 'ClientFileClosed':
        incarnation = m.incarnation;
        apply = (r) => (r.closed = m);
        break;
      case 'ClientFileAborted':
        incarnation = m.incarnation;
        apply = (r) => (r.aborted = m);
        break;
      case 'DeadLetter': {
        if (!m.originalValue) return;
        let original: { type: string; incarnation?: unknown; seq?: unknown };
        try {
          original = decodeFrom(m.sourceTopic as 'sov.commands', m.originalValue) as typeof original;
        } catch {
          return;
        }
        if (typeof original.incarnation !== 'string') return;
        incarnation = original.incarnation;
        const what = original.type === 'Superblock' ? `superblock ${original.seq}` : original.type;
        apply = (r) => (r.refused ??= { code: m.errorCode, reason: `${what} refused: ${m.reason}` });
        break;
      }
      default:
        return;
    }
    const w = incarnation ? this.watches.get(incarnation) : undefined;
    if (!w || !apply) return;
    apply(w.report);
    for (const c of [...w.changed]) c();
  }

  /** Stops following and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reader?.stop();
    for (const p of this.bulk.values()) await p.then((b) => b.close()).catch(() => undefined);
    for (const p of this.producers) await p.disconnect().catch(() => undefined);
  }
}
