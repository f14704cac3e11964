/**
 * The contract as JSON Schema (draft 2020-12), for producers and consumers that are not written
 * in TypeScript: one schema per message type and version, generated from the schema layer's own
 * data (`spec`), written to libs/contracts/schemas by `npm run contracts:schemas` and checked to
 * be current by json-schema.spec.ts.
 *
 * Why an exporter and not a move to a schema library (issue 14 asked to judge it): every schema
 * here is plain data (int ranges, string lengths and patterns, enums, arrays, closed objects,
 * tagged unions, optional fields), and each maps onto one JSON Schema construct, so this file
 * is a small, total and exact translation of the very definitions the decoder runs. TypeBox or
 * zod 4 would export the same constructs, at the price of rewriting every message and the
 * decoder's error messages (which name the field and are matched by consumers and dead letters),
 * and would still not express what JSON Schema cannot: the cross-field `check` rules (from ≤ to,
 * a CRC matching the payload, one CRC per superblock). Those are published in words (`rule`,
 * required by `object()` and `defineMessage()` whenever a check exists) in each schema's
 * description and in the index, so a foreign validator knows what it does not check.
 *
 * What a schema describes: a Deltaflow message value is not JSON but the binary envelope of
 * envelope.ts; bytes fields travel in its binary tail. So each message schema validates the
 * envelope's JSON header {type, version, fields, bytes}: `fields` holds every field but the
 * bytes fields, and `bytes` the length of each bytes field in declaration order (null when an
 * optional one is absent), which the schema bounds exactly. The framing around the header
 * (magic, version, length prefix, tail) is described by ENVELOPE_LAYOUT and envelope.json.
 *
 * Exact, with these documented differences (json-schema.spec.ts checks both directions on
 * messages from the real encoder):
 * - `check` rules are not expressed (see above): a foreign validator accepts such a message, the
 *   decoder rejects it;
 * - string lengths: the decoder counts UTF-16 code units (JavaScript's length), JSON Schema counts
 *   code points; they agree for text without characters outside the Basic Multilingual Plane, and
 *   every length-bounded identifier of the contract is ASCII by its pattern;
 * - patterns are ECMA-262 regular expressions anchored with ^...$; a validator using another
 *   regex dialect (Python's `re`) lets `$` match before a final newline.
 */
import { ENVELOPE_MAGIC, ENVELOPE_PREFIX, ENVELOPE_VERSION, MAX_JSON_HEADER } from './envelope';
import type { MessageDef } from './define';
import type { Schema } from './schema';
import { TOPICS, type TopicName } from './topics';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

export type JsonSchema = { [keyword: string]: unknown };

/** The largest int64, the bound of `decimal()` (Kafka offsets as decimal strings). */
const INT64_MAX = '9223372036854775807';

/**
 * A regular expression matching exactly the canonical decimals 0..bound (no sign, no leading
 * zeros): shorter numbers, then for each digit of the bound the numbers equal up to it and
 * smaller at it, then the bound itself.
 */
export function decimalUpTo(bound: string): string {
  if (!/^[1-9][0-9]*$/.test(bound)) throw new TypeError(`decimalUpTo: expected a canonical positive decimal, got ${bound}`);
  const n = bound.length;
  const alts: string[] = ['0'];
  if (n >= 2) alts.push(n === 2 ? '[1-9]' : `[1-9][0-9]{0,${n - 2}}`);
  for (let i = 0; i < n; i++) {
    const d = Number(bound[i]);
    const lo = i === 0 ? 1 : 0;
    if (d - 1 < lo) continue;
    const cls = d - 1 === lo ? String(lo) : `[${lo}-${d - 1}]`;
    const rest = n - i - 1;
    alts.push(`${bound.slice(0, i)}${cls}${rest === 0 ? '' : rest === 1 ? '[0-9]' : `[0-9]{${rest}}`}`);
  }
  alts.push(bound);
  return `^(${alts.join('|')})$`;
}

function patternOf(re: RegExp): string {
  if (re.flags !== '') throw new TypeError(`pattern /${re.source}/${re.flags}: flags have no JSON Schema equivalent`);
  return re.source;
}

function withRule(out: JsonSchema, rule: string | undefined): JsonSchema {
  if (rule === undefined) return out;
  return { ...out, description: `${out.description ? `${out.description} ` : ''}Rule not expressed in this schema, checked by Deltaflow: ${rule}.` };
}

/** The JSON Schema of one schema of the layer (never a bytes field: those are not JSON). */
export function jsonSchemaOf(schema: Schema<unknown>, where = 'schema'): JsonSchema {
  const spec = schema.spec;
  switch (spec.kind) {
    case 'int':
      return { type: 'integer', minimum: spec.min, maximum: spec.max };
    case 'decimal':
      return { type: 'string', pattern: decimalUpTo(INT64_MAX), description: 'a non-negative int64 as a canonical decimal string (a Kafka offset)' };
    case 'string':
      return {
        type: 'string',
        minLength: spec.minLength,
        maxLength: spec.maxLength,
        ...(spec.pattern ? { pattern: patternOf(spec.pattern) } : {}),
        ...(spec.patternName ? { description: spec.patternName } : {}),
      };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...spec.values] };
    case 'bytes':
      throw new TypeError(`${where}: bytes travel in the envelope tail and have no JSON Schema (only top-level message fields may be bytes)`);
    case 'array':
      return {
        type: 'array',
        items: jsonSchemaOf(spec.item, `${where}[]`),
        minItems: spec.minLength,
        maxItems: spec.maxLength,
        ...(spec.unique ? { uniqueItems: true } : {}),
      };
    case 'object':
      return withRule(objectSchema(spec.fields, where), schema.rule);
    case 'union':
      return {
        type: 'object',
        oneOf: Object.entries(spec.variants).map(([name, variant]) => {
          const body = jsonSchemaOf(variant, `${where}(${name})`) as { properties: JsonSchema; required: string[] };
          return { ...body, properties: { [spec.tag]: { const: name }, ...body.properties }, required: [spec.tag, ...body.required] };
        }),
      };
    case 'optional':
      // an optional field is one that may be absent; `null` is not absent, and is refused
      return jsonSchemaOf(spec.inner, where);
  }
}

/** A closed object: unknown fields are refused (a new field means a new version). */
function objectSchema(fields: Readonly<Record<string, Schema<unknown>>>, where: string): JsonSchema {
  const properties: JsonSchema = {};
  const required: string[] = [];
  for (const [key, s] of Object.entries(fields)) {
    properties[key] = jsonSchemaOf(s, `${where}.${key}`);
    if (!s.optional) required.push(key);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

/** Where a message's schema lives under libs/contracts/schemas: `<topic>/<Type>.v<version>.json` (dead letters under `dlq/`). */
export function schemaPath(def: MessageDef): string {
  return `${def.route}/${def.type}.v${def.version}.json`;
}

export function schemaId(def: MessageDef): string {
  return `urn:deltaflow:contracts:${def.route}:${def.type}:v${def.version}`;
}

function bytesSpecOf(s: Schema<unknown>): { minLength: number; maxLength: number; optional: boolean } {
  const inner = s.spec.kind === 'optional' ? s.spec.inner : s;
  if (inner.spec.kind !== 'bytes') throw new TypeError('not a bytes field');
  return { minLength: inner.spec.minLength, maxLength: inner.spec.maxLength, optional: s.optional };
}

function routeText(def: MessageDef): string {
  if (def.route === 'dlq') return 'on `<source topic>.dlq`, keyed like the original record';
  const key = TOPICS[def.route as TopicName].keyField;
  return `on topic ${def.route}, Kafka key = the decimal string of \`${key}\``;
}

/** The JSON Schema of a message: its envelope's JSON header, with the bytes fields as lengths. */
export function messageJsonSchema(def: MessageDef): JsonSchema {
  const jsonFields: Record<string, Schema<unknown>> = {};
  for (const [k, s] of Object.entries(def.fields)) if (!def.bytesFields.includes(k)) jsonFields[k] = s;
  const fields = objectSchema(jsonFields, def.type);
  const lengths = def.bytesFields.map((name) => {
    const b = bytesSpecOf(def.fields[name]);
    return {
      type: b.optional ? ['integer', 'null'] : 'integer',
      minimum: b.minLength,
      maximum: b.maxLength,
      description: `length of \`${name}\` in the envelope tail${b.optional ? ' (null: absent)' : ''}`,
    };
  });
  const bytes: JsonSchema =
    lengths.length === 0
      ? { type: 'array', maxItems: 0, description: 'this message has no bytes fields' }
      : { type: 'array', prefixItems: lengths, items: false, minItems: lengths.length, maxItems: lengths.length, description: `lengths of the bytes fields ${def.bytesFields.join(', ')}, in this order; their raw bytes follow the JSON header in the same order` };
  const description = [
    `The JSON header of a ${def.type} version ${def.version} envelope, ${routeText(def)}, Kafka headers df-type=${def.type} and df-version=${def.version}.`,
    def.bytesFields.length > 0 ? `The bytes fields (${def.bytesFields.join(', ')}) are not in \`fields\`: their raw bytes follow the JSON header, \`bytes\` gives their lengths.` : '',
    'The envelope framing (magic 0x44, envelope version 1, 32-bit big-endian header length) is in envelope.json.',
    def.readsFrom < def.version ? `Deltaflow still reads versions ${def.readsFrom}..${def.version - 1} (upcast); write this one.` : '',
  ].filter(Boolean).join(' ');
  return withRule(
    {
      $schema: JSON_SCHEMA_DIALECT,
      $id: schemaId(def),
      title: `${def.type} v${def.version}`,
      description,
      type: 'object',
      properties: {
        type: { const: def.type },
        version: { const: def.version },
        fields,
        bytes,
      },
      required: def.bytesFields.length > 0 ? ['type', 'version', 'fields', 'bytes'] : ['type', 'version', 'fields'],
      additionalProperties: false,
    },
    def.rule,
  );
}

/** The byte layout of the envelope, as data (also in envelope.json and the index). */
export const ENVELOPE_LAYOUT = {
  magic: ENVELOPE_MAGIC,
  version: ENVELOPE_VERSION,
  prefixBytes: ENVELOPE_PREFIX,
  headerLength: 'unsigned 32-bit big-endian at offset 2: the length N of the JSON header',
  maxHeaderBytes: MAX_JSON_HEADER,
  layout: [
    { offset: 0, size: 1, field: 'magic', value: '0x44 (ASCII D)' },
    { offset: 1, size: 1, field: 'envelope version', value: ENVELOPE_VERSION },
    { offset: 2, size: 4, field: 'N', value: `length of the JSON header, unsigned 32-bit big-endian, at most ${MAX_JSON_HEADER}` },
    { offset: 6, size: 'N', field: 'JSON header', value: 'UTF-8 JSON object {type, version, fields, bytes?}: the message schema validates it' },
    { offset: '6+N', size: 'sum of bytes', field: 'tail', value: 'the raw bytes of each bytes field in declaration order (absent optional ones skipped); nothing after them' },
  ],
} as const;

/** The generic schema of any envelope's JSON header (what every message schema narrows). */
export function envelopeJsonSchema(): JsonSchema {
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: 'urn:deltaflow:contracts:envelope:v1',
    title: 'Deltaflow message envelope, version 1: the JSON header',
    description:
      'Every Deltaflow message value (Kafka record value) is a binary envelope: byte 0 magic 0x44 (ASCII D); byte 1 envelope version 1; ' +
      `bytes 2..5 N, the length of the JSON header, unsigned 32-bit big-endian (at most ${MAX_JSON_HEADER}); bytes 6..6+N the JSON header (UTF-8), ` +
      'which this schema describes; then the raw bytes of the message\'s bytes fields, concatenated in declaration order, exactly as many as `bytes` announces. ' +
      'Bulk data (block images) never passes through JSON or base64. The Kafka headers df-type and df-version repeat type and version for routing; the envelope is authoritative. ' +
      'Each message type\'s own schema (index.json) narrows `type`, `version`, `fields` and `bytes`.',
    type: 'object',
    properties: {
      type: { type: 'string', minLength: 1, description: 'the message type, e.g. BlockChanged' },
      version: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'the message version' },
      fields: { type: 'object', description: 'every field of the message except its bytes fields' },
      bytes: { type: 'array', items: { type: ['integer', 'null'], minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, description: 'one length per bytes field, in declaration order; null for an absent optional one; may be omitted when the message has no bytes fields' },
    },
    required: ['type', 'version', 'fields'],
    additionalProperties: false,
  };
}

/** Topics an upstream database engine deals with: it publishes on the first and answers the second. */
export const UPSTREAM_TOPICS = ['dsf.block-changes', 'nucleus.commands'] as const;

/** The index: every topic, its key, its messages with their schema files, rules and readable versions. */
export function schemaIndex(defs: readonly MessageDef[]): JsonSchema {
  const topics: Record<string, { key: string; upstream?: string; messages: unknown[] }> = {};
  for (const def of defs) {
    const route = def.route;
    const entry = (topics[route] ??= {
      key: route === 'dlq' ? 'the original record\'s key' : TOPICS[route as TopicName].keyField,
      ...(route === 'dsf.block-changes' ? { upstream: 'published by the database engine (the upstream contract)' } : {}),
      ...(route === 'nucleus.commands' ? { upstream: 'consumed by the database engine (the upstream contract)' } : {}),
      messages: [],
    });
    entry.messages.push({
      type: def.type,
      version: def.version,
      schema: schemaPath(def),
      $id: schemaId(def),
      bytesFields: [...def.bytesFields],
      rules: [
        ...(def.rule ? [def.rule] : []),
        ...nestedRules(def),
      ],
      readsVersions: { from: def.readsFrom, to: def.version },
    });
  }
  return {
    generatedBy: 'libs/contracts/src/json-schema.ts (npm run contracts:schemas); do not edit by hand',
    dialect: JSON_SCHEMA_DIALECT,
    envelope: { schema: 'envelope.json', ...ENVELOPE_LAYOUT },
    upstreamTopics: [...UPSTREAM_TOPICS],
    topics,
  };
}

/** The cross-field rules of nested objects, as `path: rule` (e.g. `ranges[]: from ≤ to`). */
function nestedRules(def: MessageDef): string[] {
  const out: string[] = [];
  const walk = (s: Schema<unknown>, path: string) => {
    const spec = s.spec;
    if (spec.kind === 'optional') return walk(spec.inner, path);
    if (spec.kind === 'array') return walk(spec.item, `${path}[]`);
    if (spec.kind === 'union') return Object.values(spec.variants).forEach((v) => walk(v, path));
    if (spec.kind !== 'object') return;
    if (s.rule) out.push(`${path}: ${s.rule}`);
    for (const [k, f] of Object.entries(spec.fields)) walk(f, `${path}.${k}`);
  };
  for (const [k, f] of Object.entries(def.fields)) walk(f, k);
  return [...new Set(out)];
}

/** Every generated file, by path relative to libs/contracts/schemas, as the exact text written. */
export function contractSchemaFiles(defs: readonly MessageDef[]): Map<string, string> {
  const text = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const files = new Map<string, string>();
  files.set('envelope.json', text(envelopeJsonSchema()));
  files.set('index.json', text(schemaIndex(defs)));
  for (const def of defs) {
    const p = schemaPath(def);
    if (files.has(p)) throw new TypeError(`two messages write ${p}`);
    files.set(p, text(messageJsonSchema(def)));
  }
  return files;
}
