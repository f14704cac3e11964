/**
 * A small schema toolkit: each schema validates an unknown value (usually parsed JSON)
 * and returns a fresh, typed value, or throws a ContractError naming the field path.
 * Schemas are plain data (`spec`) plus a parser, so tests can walk them to generate
 * valid and invalid messages without the library depending on a test framework.
 *
 * Numbers: every integer must be a safe JS integer (|n| ≤ 2^53-1). LSNs, offsets inside
 * volumes and byte counts are therefore JS numbers: 2^53 bytes is 8 PiB, far beyond any
 * volume or change stream Deltaflow handles. Kafka offsets, which are int64 on the wire and
 * strings in kafkajs, are carried as decimal strings (`decimal()`).
 */
import { ContractError } from './errors';

export type Spec =
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  | { readonly kind: 'decimal' }
  | { readonly kind: 'string'; readonly minLength: number; readonly maxLength: number; readonly pattern?: RegExp; readonly patternName?: string }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'bytes'; readonly minLength: number; readonly maxLength: number }
  | { readonly kind: 'array'; readonly item: Schema<unknown>; readonly minLength: number; readonly maxLength: number; readonly unique: boolean }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Schema<unknown>>> }
  | { readonly kind: 'union'; readonly tag: string; readonly variants: Readonly<Record<string, Schema<unknown>>> }
  | { readonly kind: 'optional'; readonly inner: Schema<unknown> };

/** A cross-field rule on an object: returns the failing field and why, or undefined when the value is fine. */
export type Check<T> = (value: T) => { readonly field: string; readonly message: string } | undefined;

export interface Schema<T> {
  readonly spec: Spec;
  /** true only for `optional(...)`: the field may be absent */
  readonly optional: boolean;
  /** an object-level rule beyond the field types (e.g. from ≤ to) */
  readonly check?: Check<any>;
  /** the check in words, for documents (the JSON Schema export): JSON Schema cannot express it */
  readonly rule?: string;
  /** validate `value` found at `path` (`BlockChanged.rabn`) and return a fresh typed copy */
  parse(value: unknown, path: string): T;
}

export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;
export type Fields = Readonly<Record<string, Schema<any>>>;
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K] extends OptionalSchema<any> ? K : never }[keyof F];
type RequiredKeys<F extends Fields> = Exclude<keyof F, OptionalKeys<F>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The TypeScript type an object schema with fields `F` produces. */
export type Shape<F extends Fields> = Simplify<
  { readonly [K in RequiredKeys<F>]: Infer<F[K]> } & { readonly [K in OptionalKeys<F>]?: Exclude<Infer<F[K]>, undefined> }
>;

/** Short, bounded rendering of a rejected value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 48 ? `${text.slice(0, 45)}...` : text;
}

/** Splits `Type.a.b` into the message type and the field path `a.b`. */
function fail(path: string, message: string): never {
  const dot = path.search(/[.[]/);
  const messageType = dot < 0 ? path : path.slice(0, dot);
  const field = dot < 0 ? undefined : path.slice(dot).replace(/^\./, '');
  throw new ContractError('VALIDATION', `${path}: ${message}`, field, messageType);
}

function expected(path: string, what: string, value: unknown): never {
  return fail(path, `expected ${what}, got ${show(value)}`);
}

function make<T>(spec: Spec, parse: (value: unknown, path: string) => T): Schema<T> {
  return { spec, optional: false, parse };
}

/** Integer in [min, max] (defaults: any safe integer). */
export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const what =
    min === 1 && max === Number.MAX_SAFE_INTEGER
      ? 'positive integer'
      : min === 0 && max === Number.MAX_SAFE_INTEGER
        ? 'non-negative integer'
        : `integer in [${min}, ${max}]`;
  return make({ kind: 'int', min, max }, (value, path) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) expected(path, what, value);
    return value;
  });
}

/** Non-negative integer (0 .. 2^53-1). */
export const uint = (max?: number): Schema<number> => int({ min: 0, max });
/** Positive integer (1 .. 2^53-1). */
export const posint = (max?: number): Schema<number> => int({ min: 1, max });
/** Unsigned 32-bit integer, e.g. a CRC-32C. */
export const uint32 = (): Schema<number> => int({ min: 0, max: 0xffffffff });

/** Non-negative int64 as a canonical decimal string (Kafka offsets as kafkajs reports them). */
export function decimal(): Schema<string> {
  return make({ kind: 'decimal' }, (value, path) => {
    if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,18})$/.test(value) || BigInt(value) > 0x7fffffffffffffffn) {
      expected(path, 'non-negative int64 as a decimal string', value);
    }
    return value;
  });
}

/** String with a length range and optional pattern (patternName explains the pattern in errors). */
export function string(opts: { minLength?: number; maxLength?: number; pattern?: RegExp; patternName?: string } = {}): Schema<string> {
  const minLength = opts.minLength ?? 1;
  const maxLength = opts.maxLength ?? 1024;
  const what = opts.patternName ?? `string of ${minLength}..${maxLength} characters`;
  return make({ kind: 'string', minLength, maxLength, pattern: opts.pattern, patternName: opts.patternName }, (value, path) => {
    if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) expected(path, what, value);
    if (opts.pattern && !opts.pattern.test(value)) expected(path, what, value);
    return value;
  });
}

export function boolean(): Schema<boolean> {
  return make({ kind: 'boolean' }, (value, path) => {
    if (typeof value !== 'boolean') expected(path, 'boolean', value);
    return value;
  });
}

export function enumOf<const V extends readonly [string, ...string[]]>(values: V): Schema<V[number]> {
  const set = new Set<string>(values);
  const what = `one of ${values.map((v) => `'${v}'`).join(' | ')}`;
  return make({ kind: 'enum', values }, (value, path) => {
    if (typeof value !== 'string' || !set.has(value)) expected(path, what, value);
    return value as V[number];
  });
}

/**
 * Raw bytes. Only allowed as a top-level message field: the envelope carries them in its
 * binary tail, never inside the JSON. Decoded values are Buffers viewing the input.
 */
export function bytes(opts: { minLength?: number; maxLength: number }): Schema<Uint8Array> {
  const minLength = opts.minLength ?? 0;
  return make({ kind: 'bytes', minLength, maxLength: opts.maxLength }, (value, path) => {
    if (!(value instanceof Uint8Array)) expected(path, 'bytes', value);
    if (value.length < minLength || value.length > opts.maxLength) {
      fail(path, `expected ${minLength}..${opts.maxLength} bytes, got ${value.length} bytes`);
    }
    return value;
  });
}

/** The field may be absent (or undefined); present values must match `inner`. JSON null is rejected. */
export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    spec: { kind: 'optional', inner },
    optional: true,
    parse: (value, path) => (value === undefined ? undefined : inner.parse(value, path)),
  };
}

export function array<T>(item: Schema<T>, opts: { minLength?: number; maxLength?: number; unique?: boolean } = {}): Schema<T[]> {
  const minLength = opts.minLength ?? 0;
  const maxLength = opts.maxLength ?? 100_000;
  const unique = opts.unique ?? false;
  if (item.spec.kind === 'bytes') throw new TypeError('bytes are only allowed as top-level message fields');
  return make({ kind: 'array', item, minLength, maxLength, unique }, (value, path) => {
    if (!Array.isArray(value)) expected(path, 'array', value);
    if (value.length < minLength || value.length > maxLength) {
      fail(path, `expected ${minLength}..${maxLength} items, got ${value.length}`);
    }
    const out = value.map((v, i) => item.parse(v, `${path}[${i}]`));
    if (unique) {
      const seen = new Set<string>();
      out.forEach((v, i) => {
        const k = JSON.stringify(v);
        if (seen.has(k)) fail(`${path}[${i}]`, `duplicate item ${show(v)}`);
        seen.add(k);
      });
    }
    return out;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Parses an object's fields; unknown fields are rejected (new fields mean a new version). */
export function parseFields(fields: Fields, value: unknown, path: string, ignore: readonly string[] = []): Record<string, unknown> {
  if (!isPlainObject(value)) expected(path, 'object', value);
  for (const key of Object.keys(value)) {
    if (!Object.prototype.hasOwnProperty.call(fields, key) && !ignore.includes(key)) fail(`${path}.${key}`, 'unknown field');
  }
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const raw = Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined;
    if (raw === undefined && !schema.optional) fail(`${path}.${key}`, 'required field missing');
    const parsed = schema.parse(raw, `${path}.${key}`);
    if (parsed !== undefined) out[key] = parsed;
  }
  return out;
}

/** Runs an object-level check and reports its field relative to `path`. */
export function runCheck(check: Check<any> | undefined, value: unknown, path: string): void {
  const problem = check?.(value);
  if (problem) fail(`${path}.${problem.field}`, problem.message);
}

/** An object with exactly these fields; a `check` (cross-field rule) must come with its `rule` in words. */
export function object<F extends Fields>(fields: F, opts: { check?: Check<Shape<F>>; rule?: string } = {}): Schema<Shape<F>> {
  if (opts.check && !opts.rule) throw new TypeError('an object check needs its rule in words (rule), for the published schemas');
  for (const [key, schema] of Object.entries(fields)) {
    if (schema.spec.kind === 'bytes' || (schema.spec.kind === 'optional' && schema.spec.inner.spec.kind === 'bytes')) {
      throw new TypeError(`field ${key}: bytes are only allowed as top-level message fields`);
    }
  }
  return {
    spec: { kind: 'object', fields },
    optional: false,
    check: opts.check,
    ...(opts.rule ? { rule: opts.rule } : {}),
    parse(value, path) {
      const out = parseFields(fields, value, path);
      runCheck(opts.check, out, path);
      return out as Shape<F>;
    },
  };
}

type UnionOf<Tag extends string, V extends Record<string, Fields>> = {
  [K in keyof V & string]: Simplify<{ readonly [P in Tag]: K } & Shape<V[K]>>;
}[keyof V & string];

/** Discriminated union of objects: `tag` names the variant, each variant lists its other fields. */
export function union<const Tag extends string, V extends Record<string, Fields>>(tag: Tag, variants: V): Schema<UnionOf<Tag, V>> {
  const schemas: Record<string, Schema<unknown>> = {};
  for (const [name, fields] of Object.entries(variants)) schemas[name] = object(fields);
  const what = `one of ${Object.keys(variants).map((v) => `'${v}'`).join(' | ')}`;
  return make({ kind: 'union', tag, variants: schemas }, (value, path) => {
    if (!isPlainObject(value)) expected(path, 'object', value);
    const variant = value[tag];
    if (typeof variant !== 'string' || !Object.prototype.hasOwnProperty.call(variants, variant)) {
      expected(`${path}.${tag}`, what, variant);
    }
    const out = parseFields(variants[variant], value, path, [tag]);
    return { [tag]: variant, ...out } as UnionOf<Tag, V>;
  });
}
