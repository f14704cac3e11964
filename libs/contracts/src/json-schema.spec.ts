// The published JSON Schemas (libs/contracts/schemas): current with the code, and exact against
// the real encoder and decoder as judged by a maintained validator (ajv, draft 2020-12): every
// message the encoder writes is valid; every header the decoder refuses for its shape is invalid;
// what the schemas cannot tell (cross-field rules) is exactly what the index lists as rules.
import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { crc32c } from '@deltaflow/checksum';
import {
  ALL_MESSAGES,
  BlockChanged,
  ContractError,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION,
  EtSync,
  NucleusState,
  SaveRequested,
  Superblock,
  SyncRequested,
  UtilityChanged,
  contractSchemaFiles,
  decimalUpTo,
  envelopeJsonSchema,
  messageJsonSchema,
  schemaIndex,
  schemaPath,
  type MessageDef,
  type Schema,
} from './index';
import { messageArb, sample } from './testing/arbitraries';
import { SCHEMAS_DIR, readSchemaFiles, schemaDrift } from './write-schemas';

type Json = any;
type Header = { type: string; version: number; fields: Record<string, Json>; bytes?: (number | null)[] };

function newAjv() {
  // strict: an unknown keyword or an ambiguous construct in a generated schema fails here
  return new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: false });
}

const ajv = newAjv();
const validators = new Map<string, ValidateFunction>();
const envelopeValidator = ajv.compile(envelopeJsonSchema());
for (const def of ALL_MESSAGES) validators.set(def.type, ajv.compile(messageJsonSchema(def)));
const validatorOf = (def: MessageDef) => validators.get(def.type)!;

/** Splits an envelope as a foreign consumer would: magic, version, big-endian length, JSON, tail. */
function readFrame(value: Buffer): { header: Header; tail: Buffer } {
  expect(value[0]).toBe(0x44);
  expect(value[1]).toBe(1);
  const n = value.readUInt32BE(2);
  return { header: JSON.parse(value.toString('utf8', 6, 6 + n)), tail: value.subarray(6 + n) };
}

/** An envelope around `header`; the tail is `tail`, or zeros as long as `header.bytes` announces. */
function frame(header: Header, tail?: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(6);
  prefix[0] = ENVELOPE_MAGIC;
  prefix[1] = ENVELOPE_VERSION;
  prefix.writeUInt32BE(json.length, 2);
  const zeros = Buffer.alloc((header.bytes ?? []).reduce<number>((a, b) => a + (typeof b === 'number' && b >= 0 ? b : 0), 0));
  return Buffer.concat([prefix, json, tail ?? zeros]);
}

function decoderAccepts(def: MessageDef, value: Buffer): boolean {
  try {
    def.decode(value);
    return true;
  } catch (e) {
    if (!(e instanceof ContractError)) throw e;
    return false;
  }
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Every path into a JSON value (objects and arrays), the root excluded. */
function pathsOf(v: Json, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...pathsOf(x, [...at, i])]);
  if (v !== null && typeof v === 'object') return Object.keys(v).flatMap((k) => [[...at, k], ...pathsOf(v[k], [...at, k])]);
  return [];
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): void {
  let o = root;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(o)) o.splice(last as number, 1);
    else delete o[last];
  } else o[last] = value;
}

/** True when a cross-field rule (an object's or the message's `check`) refuses the value: what JSON Schema cannot tell. */
function aCheckFails(def: MessageDef, message: Record<string, unknown>): boolean {
  const walk = (s: Schema<unknown>, v: unknown): boolean => {
    if (v === undefined) return false;
    const spec = s.spec;
    if (spec.kind === 'optional') return walk(spec.inner, v);
    if (spec.kind === 'array') return (v as unknown[]).some((x) => walk(spec.item, x));
    if (spec.kind === 'union') return walk(spec.variants[(v as Record<string, string>)[spec.tag]], v);
    if (spec.kind !== 'object') return false;
    if (s.check?.(v)) return true;
    return Object.entries(spec.fields).some(([k, f]) => walk(f, (v as Record<string, unknown>)[k]));
  };
  if (def.check?.(message)) return true;
  return Object.entries(def.fields).some(([k, f]) => walk(f, message[k]));
}

/** The message as the decoder would see it (bytes as the tail slices), for aCheckFails. */
function messageOf(def: MessageDef, header: Header, tail: Buffer): Record<string, unknown> {
  const m: Record<string, unknown> = { type: def.type, ...header.fields };
  let at = 0;
  def.bytesFields.forEach((name, i) => {
    const n = header.bytes?.[i];
    if (typeof n !== 'number') return;
    m[name] = tail.subarray(at, at + n);
    at += n;
  });
  return m;
}

/** Values of the wrong shape for a schema, each refused by the decoder for its shape alone. */
function invalidValues(s: Schema<unknown>, current: Json): Json[] {
  const spec = s.spec.kind === 'optional' ? s.spec.inner.spec : s.spec;
  const out: Json[] = [null];
  switch (spec.kind) {
    case 'int':
      out.push(1.5, String(spec.min), spec.max + 1);
      if (spec.min > Number.MIN_SAFE_INTEGER) out.push(spec.min - 1);
      break;
    case 'decimal':
      out.push('01', '-1', '9223372036854775808', '1e3', 5);
      break;
    case 'string': {
      out.push(7, 'x'.repeat(spec.maxLength + 1));
      if (spec.minLength > 0) out.push('');
      if (spec.pattern) {
        const bad = [' ', '../x', '.x', 'a b', 'é', '-', 'A', 'a', '0', 'zz', 'Z9', 'x/y', '@dsim2'].map((c) => c.repeat(Math.max(1, Math.ceil(spec.minLength / c.length))));
        out.push(...bad.filter((c) => c.length <= spec.maxLength && !spec.pattern!.test(c)).slice(0, 3));
      }
      break;
    }
    case 'boolean':
      out.push('true', 1);
      break;
    case 'enum':
      out.push('NOT_A_VALUE', spec.values[0].toLowerCase() === spec.values[0] ? spec.values[0].toUpperCase() : spec.values[0].toLowerCase());
      break;
    case 'array': {
      const items = current as Json[];
      out.push({ 0: items[0] });
      if (spec.minLength > 0) out.push(items.slice(0, spec.minLength - 1));
      if (items.length > 0 && spec.maxLength <= 1000) out.push(Array.from({ length: spec.maxLength + 1 }, () => items[0]));
      if (spec.unique && items.length > 0) out.push([items[0], ...items]);
      break;
    }
    case 'object':
      out.push([], { ...current, unexpected: 1 });
      if (Object.values(spec.fields).some((f) => !f.optional)) out.push({});
      break;
    case 'union':
      out.push({ ...current, [spec.tag]: 'no-such-variant' }, { ...current, unexpected: 1 });
      break;
    case 'bytes':
      break;
  }
  return out.filter((v) => JSON.stringify(v) !== JSON.stringify(current));
}

/** (path, schema, value) of every value present in `fields`, nested ones included. */
function leavesOf(fields: Readonly<Record<string, Schema<unknown>>>, value: Record<string, Json>, at: (string | number)[]): Array<{ path: (string | number)[]; schema: Schema<unknown>; value: Json }> {
  const out: Array<{ path: (string | number)[]; schema: Schema<unknown>; value: Json }> = [];
  const walk = (s: Schema<unknown>, v: Json, path: (string | number)[]) => {
    if (v === undefined) return;
    out.push({ path, schema: s, value: v });
    const spec = s.spec.kind === 'optional' ? s.spec.inner.spec : s.spec;
    if (spec.kind === 'array') (v as Json[]).slice(0, 2).forEach((x, i) => walk(spec.item, x, [...path, i]));
    if (spec.kind === 'object') for (const [k, f] of Object.entries(spec.fields)) walk(f, v[k], [...path, k]);
    if (spec.kind === 'union') for (const [k, f] of Object.entries((spec.variants[v[spec.tag]].spec as { fields: Record<string, Schema<unknown>> }).fields)) walk(f, v[k], [...path, k]);
  };
  for (const [k, s] of Object.entries(fields)) walk(s, value[k], [...at, k]);
  return out;
}

describe('published JSON Schemas', () => {
  it('are current: the files under libs/contracts/schemas are what `npm run contracts:schemas` writes', () => {
    const drift = schemaDrift();
    expect({ ...drift, hint: 'run `npm run contracts:schemas` and commit libs/contracts/schemas' }).toEqual({
      missing: [],
      stale: [],
      extra: [],
      hint: 'run `npm run contracts:schemas` and commit libs/contracts/schemas',
    });
  });

  it('the staleness check fails when a message changes without regenerating', () => {
    const changed = ALL_MESSAGES.map((d) => (d === EtSync ? { ...d, version: 2 } : d)) as MessageDef[];
    const want = contractSchemaFiles(changed);
    const have = readSchemaFiles(SCHEMAS_DIR);
    expect(want.has('dsf.block-changes/EtSync.v2.json') && !have.has('dsf.block-changes/EtSync.v2.json')).toBe(true);
    expect(want.get('index.json')).not.toEqual(have.get('index.json'));
  });

  it('cover every message, the upstream contract first, each under <topic>/<Type>.v<version>.json', () => {
    const index = schemaIndex(ALL_MESSAGES);
    const listed = Object.values(index.topics as Record<string, { messages: { type: string; schema: string }[] }>).flatMap((t) => t.messages);
    expect(listed.map((m) => m.type).sort()).toEqual(ALL_MESSAGES.map((d) => d.type).sort());
    for (const def of [BlockChanged, EtSync, UtilityChanged, NucleusState, SyncRequested]) {
      expect(listed.find((m) => m.type === def.type)?.schema).toBe(schemaPath(def));
    }
    expect(schemaPath(BlockChanged)).toBe('dsf.block-changes/BlockChanged.v1.json');
    expect(index.upstreamTopics).toEqual(['dsf.block-changes', 'nucleus.commands']);
  });

  it('decimalUpTo matches exactly the canonical decimals 0..bound', () => {
    const re = new RegExp(decimalUpTo('9223372036854775807'), 'u');
    const max = 2n ** 63n - 1n;
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n }), (n) => expect(re.test(n.toString())).toBe(n <= max)),
      { numRuns: 2000 },
    );
    for (const s of ['0', '9', '10', '9223372036854775807', '9223372036854775799', '8999999999999999999']) expect(re.test(s)).toBe(true);
    for (const s of ['', '00', '01', '-1', '9223372036854775808', '9300000000000000000', '10000000000000000000', '1 ', '+1']) expect(re.test(s)).toBe(false);
    const small = new RegExp(decimalUpTo('305'), 'u');
    for (let i = 0; i <= 1000; i++) expect([i, small.test(String(i))]).toEqual([i, i <= 305]);
  });

  describe.each(ALL_MESSAGES.map((d) => [d.type, d] as const))('%s', (_type, def: MessageDef) => {
    it('every message of the real encoder is valid (envelope schema and its own)', () => {
      fc.assert(
        fc.property(messageArb(def), (message) => {
          const { header, tail } = readFrame(def.encode(message).value);
          expect(envelopeValidator(header)).toBe(true);
          const ok = validatorOf(def)(header);
          if (!ok) throw new Error(`${def.type}: ${JSON.stringify(validatorOf(def).errors)} for ${JSON.stringify(header).slice(0, 400)}`);
          expect(tail.length).toBe((header.bytes ?? []).reduce<number>((a, b) => a + (b ?? 0), 0));
        }),
        { numRuns: 40 },
      );
    });

    it('every shape the decoder refuses is invalid: missing, null, wrong-typed, out-of-range, unknown fields; bytes lengths', () => {
      const { header, tail } = readFrame(def.encode(sample(def)).value);
      expect(def.decode(frame(header, tail))).toBeDefined();
      const cases: Array<{ what: string; header: Header; tail?: Buffer }> = [];
      const mutate = (what: string, f: (h: Header) => void, keepTail = true) => {
        const h = clone(header);
        f(h);
        cases.push({ what, header: h, ...(keepTail ? { tail } : {}) });
      };
      for (const [k, s] of Object.entries(def.fields)) {
        if (def.bytesFields.includes(k)) continue;
        if (!s.optional) mutate(`missing ${k}`, (h) => delete h.fields[k]);
      }
      for (const leaf of leavesOf(def.fields, header.fields, [])) {
        if (def.bytesFields.includes(String(leaf.path[0]))) continue;
        for (const bad of invalidValues(leaf.schema, leaf.value)) mutate(`${leaf.path.join('.')} = ${JSON.stringify(bad).slice(0, 40)}`, (h) => setAt(h.fields, leaf.path, bad));
      }
      mutate('unknown field', (h) => (h.fields.surprise = 1));
      mutate('type of another message', (h) => (h.type = def === BlockChanged ? 'EtSync' : 'BlockChanged'));
      mutate('newer version', (h) => (h.version = def.version + 1));
      mutate('version 0', (h) => (h.version = 0));
      mutate('fields not an object', (h) => (h.fields = [] as never));
      def.bytesFields.forEach((name, i) => {
        const spec = (def.fields[name].spec.kind === 'optional' ? (def.fields[name].spec as { inner: Schema<unknown> }).inner : def.fields[name]).spec as { minLength: number; maxLength: number };
        mutate(`${name} also in JSON`, (h) => (h.fields[name] = 'AAAA'));
        mutate(`${name} too long`, (h) => (h.bytes![i] = spec.maxLength + 1), false);
        if (spec.minLength > 0) mutate(`${name} too short`, (h) => (h.bytes![i] = spec.minLength - 1), false);
        if (!def.fields[name].optional) mutate(`${name} absent`, (h) => (h.bytes![i] = null), false);
        mutate('a bytes length missing', (h) => h.bytes!.splice(i, 1), false);
      });
      mutate('an extra bytes length', (h) => (h.bytes = [...(h.bytes ?? []), 0]), false);
      expect(cases.length).toBeGreaterThan(3);
      for (const c of cases) {
        const value = frame(c.header, c.tail);
        const verdict = { what: c.what, decoder: decoderAccepts(def, value), schema: validatorOf(def)(c.header) };
        expect(verdict).toEqual({ what: c.what, decoder: false, schema: false });
      }
    });

    it('agrees with the decoder on random damage, except where a listed cross-field rule decides (differential fuzz)', () => {
      const pool: Json[] = [-1, 0, 1, 1.5, 2 ** 53, 65536, 4294967296, '', 'x', 'ASSO', 'DATA', 'a b', '../x', '0', '01', '9223372036854775808', null, true, [], {}, [1], ['DATA', 'DATA'], { area: 'DATA', from: 9, to: 3 }];
      const index = schemaIndex(ALL_MESSAGES);
      const rules = Object.values(index.topics as Record<string, { messages: { type: string; rules: string[] }[] }>).flatMap((t) => t.messages).find((m) => m.type === def.type)!.rules;
      fc.assert(
        fc.property(messageArb(def), fc.nat(), fc.constantFrom(...pool), fc.constantFrom('set', 'delete', 'add'), (message, pick, bad, op) => {
          const { header, tail } = readFrame(def.encode(message).value);
          const h = clone(header);
          const paths = pathsOf(h.fields);
          if (op === 'add' || paths.length === 0) {
            const objects = [[] as (string | number)[], ...paths.filter((p) => { let o: Json = h.fields; for (const k of p) o = o[k]; return o !== null && typeof o === 'object' && !Array.isArray(o); })];
            const at = objects[pick % objects.length];
            let o: Json = h.fields;
            for (const k of at) o = o[k];
            o[`extra${pick % 3}`] = bad;
          } else setAt(h.fields, paths[pick % paths.length], op === 'delete' ? undefined : bad);
          const schema = validatorOf(def)(h);
          const decoder = decoderAccepts(def, frame(h, tail));
          if (schema === decoder) return;
          // the only disagreement allowed: the schema accepts, a cross-field rule (listed) refuses
          expect({ schema, decoder, header: h }).toMatchObject({ schema: true, decoder: false });
          expect(aCheckFails(def, messageOf(def, h, tail))).toBe(true);
          expect(rules.length).toBeGreaterThan(0);
        }),
        { numRuns: 150 },
      );
    });
  });

  it('cross-field rules are not JSON Schema: listed in the index and descriptions, refused by the decoder only', () => {
    const index = schemaIndex(ALL_MESSAGES);
    const entry = (type: string) => Object.values(index.topics as Record<string, { messages: { type: string; rules: string[] }[] }>).flatMap((t) => t.messages).find((m) => m.type === type)!;
    expect(entry('UtilityChanged').rules).toEqual(['ranges[]: from ≤ to']);
    expect(entry('Superblock').rules).toContain('crc is the CRC-32C (Castagnoli) of the payload bytes');
    expect(entry('BlockChanged').rules).toEqual([]);
    expect(JSON.stringify(messageJsonSchema(UtilityChanged))).toContain('Rule not expressed in this schema, checked by Deltaflow: from ≤ to.');

    const backwards: Header = { type: 'UtilityChanged', version: 1, fields: { dbid: 1, lsn: 5, file: 1, parts: ['DATA'], ranges: [{ area: 'DATA', from: 9, to: 3 }] } };
    expect(validatorOf(UtilityChanged)(backwards)).toBe(true);
    expect(decoderAccepts(UtilityChanged, frame(backwards))).toBe(false);

    const sb = sample(Superblock);
    const { header, tail } = readFrame(Superblock.encode(sb).value);
    header.fields.crc = ((crc32c(sb.payload) >>> 0) ^ 1) >>> 0;
    expect(validatorOf(Superblock)(header)).toBe(true);
    expect(decoderAccepts(Superblock, frame(header, tail))).toBe(false);
  });

  it('nested unions and names: a destination is one of its variants, and names stay plain', () => {
    const { header } = readFrame(SaveRequested.encode({ ...sample(SaveRequested), destination: { kind: 'stream', stream: 'S1' } }).value);
    expect(validatorOf(SaveRequested)(header)).toBe(true);
    for (const destination of [{ kind: 'directory', name: '../etc' }, { kind: 'stream', name: 'x' }, { kind: 'tape', name: 'x' }, { kind: 'directory' }]) {
      const h = { ...header, fields: { ...header.fields, destination } };
      expect([destination, validatorOf(SaveRequested)(h), decoderAccepts(SaveRequested, frame(h))]).toEqual([destination, false, false]);
    }
  });

  it('the upstream messages validate as an engine would write them by hand', () => {
    const image = { type: 'BlockChanged', version: 1, fields: { dbid: 7, area: 'DATA', rabn: 12, lsn: 1001, txn: 55 }, bytes: [4096] };
    expect(validatorOf(BlockChanged)(image)).toBe(true);
    expect(BlockChanged.decode(frame(image))).toMatchObject({ dbid: 7, rabn: 12, image: Buffer.alloc(4096) });
    expect(validatorOf(BlockChanged)({ ...image, bytes: [0] })).toBe(false);
    expect(validatorOf(BlockChanged)({ ...image, bytes: undefined })).toBe(false);
    const sync = { type: 'EtSync', version: 1, fields: { dbid: 7, lsn: 1002, syncId: 'save-1.start' } };
    expect(validatorOf(EtSync)(sync)).toBe(true);
    expect(validatorOf(EtSync)({ ...sync, bytes: [] })).toBe(true);
    expect(validatorOf(EtSync)({ ...sync, fields: { ...sync.fields, syncId: 'has space' } })).toBe(false);
    expect(validatorOf(NucleusState)({ type: 'NucleusState', version: 1, fields: { dbid: 7, lsn: 1003, active: false, at: Date.now() } })).toBe(true);
    expect(validatorOf(SyncRequested)({ type: 'SyncRequested', version: 1, fields: { dbid: 7, syncId: 's', correlationId: 'c' } })).toBe(true);
  });
});
