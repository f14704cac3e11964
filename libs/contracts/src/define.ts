/**
 * defineMessage: one typed, versioned schema per message, with the only encode/decode
 * path (the binary envelope in envelope.ts). A registry maps type names to definitions
 * so a consumer decodes any value with one call and gets a discriminated union back.
 */
import { ContractError } from './errors';
import { readEnvelope, writeEnvelopeHead, type RawEnvelope } from './envelope';
import { parseFields, runCheck, type Check, type Fields, type Shape } from './schema';
import { TOPICS, dlqTopic, sourceOfDlq, type TopicName } from './topics';

/** What a producer sends: kafkajs' `{ key, value, headers }` plus the topic. */
export interface KafkaRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A record whose value is given in parts (envelope head, then the bytes fields as they are):
 * Buffer.concat(value) is the KafkaRecord's value. Lets a producer write bulk bytes uncopied.
 */
export interface KafkaRecordParts {
  readonly topic: string;
  readonly key: string | null;
  readonly value: readonly Uint8Array[];
  readonly headers: Readonly<Record<string, string>>;
}

export const TYPE_HEADER = 'df-type';
export const VERSION_HEADER = 'df-version';

/** Upgrades the fields of version `from` to version `from + 1`. */
export type Upcaster = (fields: Record<string, unknown>) => Record<string, unknown>;

/** Where a message goes: a topic of the table (keyed by its key field) or, for dead letters, `<source>.dlq`. */
export type Route = TopicName | 'dlq';

export type Message<T extends string, F extends Fields> = { readonly type: T } & Shape<F>;

export interface MessageDef<T extends string = string, M extends { readonly type: T } = any, R extends Route = Route> {
  readonly type: T;
  readonly version: number;
  readonly route: R;
  readonly fields: Fields;
  /** names of the top-level bytes fields, in tail order */
  readonly bytesFields: readonly string[];
  /** the message-level cross-field rule (e.g. a CRC matching the payload), and that rule in words */
  readonly check?: Check<any>;
  readonly rule?: string;
  /** the oldest version this build decodes (upcasters bridge every version from it to `version`) */
  readonly readsFrom: number;
  /** Validates fields and returns the message with its `type` set. */
  create(fields: Omit<M, 'type'>): M;
  /** Validates an in-memory message (bytes in place); throws ContractError. */
  validate(value: unknown): M;
  /** Validates and encodes into a Kafka record (topic, key, envelope value, type headers). */
  encode(message: M): KafkaRecord;
  /** As encode, with the value left in parts (the bytes fields not copied). */
  encodeParts(message: M): KafkaRecordParts;
  /** Decodes an envelope that must hold this type. */
  decode(value: Uint8Array): M;
  /** True if `message` is of this type (narrowing a decoded union). */
  is(message: { readonly type: string }): message is M;
  /** Builds from an already read envelope (used by the registry). */
  fromEnvelope(env: RawEnvelope): M;
}

export type MessageOf<D> = D extends MessageDef<any, infer M, any> ? M : never;

interface DefineOptions<T extends string, F extends Fields, R extends Route> {
  readonly type: T;
  readonly version: number;
  /** topic from the table; the partition key is the topic's key field. 'dlq' routes by `sourceTopic`. */
  readonly topic: R;
  readonly fields: F;
  /** cross-field rule, e.g. a CRC matching the payload */
  readonly check?: Check<Message<T, F>>;
  /** the check in words (required with `check`): published with the JSON Schemas, which cannot express it */
  readonly rule?: string;
  /** upcasters by source version: decoding an older version runs them in turn */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
}

/** Defines one message type; throws at definition time if the schema cannot be routed or enveloped. */
export function defineMessage<const T extends string, F extends Fields, R extends Route>(
  opts: DefineOptions<T, F, R>,
): MessageDef<T, Message<T, F>, R> {
  type M = Message<T, F>;
  const { type, version, fields } = opts;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(type)) throw new TypeError(`message type ${type}: expected PascalCase`);
  if (!Number.isSafeInteger(version) || version < 1) throw new TypeError(`${type}: version must be a positive integer`);
  if ('type' in fields) throw new TypeError(`${type}: 'type' is reserved`);
  if (opts.check && !opts.rule) throw new TypeError(`${type}: a check needs its rule in words (rule), for the published schemas`);
  let readsFrom = version;
  while (readsFrom > 1 && opts.upcasters?.[readsFrom - 1]) readsFrom--;
  const bytesFields = Object.entries(fields)
    .filter(([, s]) => s.spec.kind === 'bytes' || (s.spec.kind === 'optional' && s.spec.inner.spec.kind === 'bytes'))
    .map(([name]) => name);
  const keyField = opts.topic === 'dlq' ? undefined : TOPICS[opts.topic as TopicName].keyField;
  if (keyField !== undefined && !(keyField in fields)) throw new TypeError(`${type}: topic ${opts.topic} is keyed by '${keyField}', which the message lacks`);

  function validate(value: unknown): M {
    if (typeof value !== 'object' || value === null) throw new ContractError('VALIDATION', `${type}: expected an object`, undefined, type);
    const { type: t, ...rest } = value as Record<string, unknown>;
    if (t !== type) throw new ContractError('VALIDATION', `${type}.type: expected '${type}', got ${JSON.stringify(t) ?? 'nothing'}`, 'type', type);
    const out = parseFields(fields, rest, type);
    const message = { type, ...out } as M;
    runCheck(opts.check, message, type);
    return message;
  }

  function topicOf(m: M): string {
    if (opts.topic !== 'dlq') return opts.topic;
    const source = (m as unknown as { sourceTopic: string }).sourceTopic;
    return `${source}.dlq`;
  }

  function keyOf(m: M): string | null {
    if (keyField === undefined) return (m as unknown as { originalKey?: string }).originalKey ?? null;
    const k = (m as Record<string, unknown>)[keyField];
    // A message may omit its key field only when it cannot know it (e.g. a rejection of
    // unparseable input); Kafka then spreads it over partitions, which loses no ordering that existed.
    return k === undefined ? null : String(k);
  }

  function encodeParts(message: M): KafkaRecordParts {
    const m = validate(message);
    const json: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m)) if (k !== 'type' && !bytesFields.includes(k)) json[k] = v;
    const tails = bytesFields.map((name) => ((m as Record<string, unknown>)[name] as Uint8Array | undefined) ?? null);
    const value: Uint8Array[] = [writeEnvelopeHead(type, version, json, tails)];
    for (const t of tails) if (t !== null && t.length > 0) value.push(t);
    return { topic: topicOf(m), key: keyOf(m), value, headers: { [TYPE_HEADER]: type, [VERSION_HEADER]: String(version) } };
  }

  function fromEnvelope(env: RawEnvelope): M {
    if (env.type !== type) throw new ContractError('UNKNOWN_TYPE', `expected a ${type}, got a ${env.type}`, 'type', env.type);
    if (env.version > version) {
      throw new ContractError('UNSUPPORTED_VERSION', `${type}.version: this build reads versions up to ${version}, got ${env.version}`, 'version', type);
    }
    if (env.bytes.length !== bytesFields.length) {
      throw new ContractError('VALIDATION', `${type}: envelope carries ${env.bytes.length} bytes fields, expected ${bytesFields.length}`, 'envelope.bytes', type);
    }
    for (const name of bytesFields) {
      if (Object.prototype.hasOwnProperty.call(env.fields, name)) {
        throw new ContractError('VALIDATION', `${type}.${name}: bytes must travel in the envelope tail, not in JSON`, name, type);
      }
    }
    let record: Record<string, unknown> = { ...env.fields };
    bytesFields.forEach((name, i) => {
      const tail = env.bytes[i];
      if (tail !== null) record[name] = tail;
    });
    for (let v = env.version; v < version; v++) {
      const up = opts.upcasters?.[v];
      if (!up) throw new ContractError('UNSUPPORTED_VERSION', `${type}.version: no upgrade from version ${v} to ${v + 1}`, 'version', type);
      record = up(record);
    }
    return validate({ ...record, type });
  }

  return {
    type,
    version,
    route: opts.topic,
    fields,
    bytesFields,
    ...(opts.check ? { check: opts.check, rule: opts.rule } : {}),
    readsFrom,
    create: (f) => validate({ ...(f as object), type }),
    validate,
    encode(message) {
      const r = encodeParts(message);
      return { ...r, value: Buffer.concat(r.value) };
    },
    encodeParts,
    decode: (value) => fromEnvelope(readEnvelope(value)),
    is: (message): message is M => message.type === type,
    fromEnvelope,
  };
}

/** All definitions by type name, with decoding of any value and per-topic decoding. */
export interface Registry<D extends MessageDef> {
  readonly defs: readonly D[];
  get(type: string): D | undefined;
  /** Decodes any Deltaflow message value. */
  decode(value: Uint8Array | null | undefined): MessageOf<D>;
  /** Decodes a value read from `topic`; a type that does not belong on that topic is rejected as UNKNOWN_TYPE. */
  decodeFrom<R extends Route>(topic: R extends 'dlq' ? string : R, value: Uint8Array | null | undefined): MessageOf<Extract<D, { route: R }>>;
  /** Encodes any registered message. */
  encode(message: MessageOf<D>): KafkaRecord;
}

/** Builds a registry; duplicate type names are a programming error. */
export function createRegistry<const D extends MessageDef>(defs: readonly D[]): Registry<D> {
  const byType = new Map<string, D>();
  for (const def of defs) {
    if (byType.has(def.type)) throw new TypeError(`duplicate message type ${def.type}`);
    byType.set(def.type, def);
  }
  function lookup(env: RawEnvelope): D {
    const def = byType.get(env.type);
    if (!def) throw new ContractError('UNKNOWN_TYPE', `unknown message type ${JSON.stringify(env.type)}`, 'type', env.type);
    return def;
  }
  return {
    defs,
    get: (type) => byType.get(type),
    decode(value) {
      const env = readEnvelope(value);
      return lookup(env).fromEnvelope(env);
    },
    decodeFrom(topic: string, value: Uint8Array | null | undefined) {
      const env = readEnvelope(value);
      const def = lookup(env);
      const expected = sourceOfDlq(topic) !== undefined ? 'dlq' : topic;
      if (def.route !== expected) {
        throw new ContractError('UNKNOWN_TYPE', `${env.type} does not belong on topic ${topic}`, 'type', env.type);
      }
      return def.fromEnvelope(env);
    },
    encode(message) {
      const def = byType.get(message.type);
      if (!def) throw new ContractError('UNKNOWN_TYPE', `unknown message type ${JSON.stringify(message.type)}`, 'type', message.type);
      return def.encode(message);
    },
  } as Registry<D>;
}

export { dlqTopic };
