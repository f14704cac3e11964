// Test fixtures of @deltaflow/contracts: valid messages generated from the schemas themselves
// (fast-check), so a new message type is covered by the contract tests without new code.
import { crc32c } from '@deltaflow/checksum';
import fc from 'fast-check';
import { BlockRange, ClientFileVerified, DsidSchema, Extent, RunMoved, RunPlaced, StreamDefine, StreamDefined, Superblock, VolumesReclaimed, VolumeVerified } from '../index';
import type { MessageDef, Schema } from '../index';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function arbOf(schema: Schema<unknown>): fc.Arbitrary<unknown> {
  if (schema === (BlockRange as Schema<unknown>)) {
    return fc
      .record({ area: fc.constantFrom('ASSO', 'DATA'), a: fc.integer({ min: 1, max: 2 ** 31 }), b: fc.integer({ min: 1, max: 2 ** 31 }) })
      .map(({ area, a, b }) => ({ area, from: Math.min(a, b), to: Math.max(a, b) }));
  }
  if (schema === (Extent as Schema<unknown>)) {
    return fc
      .record({ part: fc.constantFrom('DATA', 'AC', 'INDEX'), a: fc.integer({ min: 1, max: 2 ** 31 }), b: fc.integer({ min: 1, max: 2 ** 31 }) })
      .map(({ part, a, b }) => ({ part, from: Math.min(a, b), to: Math.max(a, b) }));
  }
  if (schema === (DsidSchema as Schema<unknown>)) {
    return fc
      .record({ full: fc.integer({ min: 1, max: 1e6 }), a: fc.nat(1000), b: fc.nat(1000), timestamp: fc.nat(), lineage: fc.stringMatching(/^[a-z0-9]{1,12}$/) })
      .map(({ full, a, b, timestamp, lineage }) => ({ full, deltaFrom: Math.min(a, b), deltaTo: Math.max(a, b), timestamp, lineage }));
  }
  const spec = schema.spec;
  switch (spec.kind) {
    case 'int':
      return fc.bigInt({ min: BigInt(spec.min), max: BigInt(spec.max) > MAX_SAFE ? MAX_SAFE : BigInt(spec.max) }).map(Number);
    case 'decimal':
      return fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String);
    case 'string':
      if (spec.pattern) {
        return fc.stringMatching(spec.pattern).filter((s) => s.length >= spec.minLength && s.length <= spec.maxLength);
      }
      return fc.string({ minLength: spec.minLength, maxLength: Math.min(spec.maxLength, 40), unit: 'binary' });
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...spec.values);
    case 'bytes':
      return fc.uint8Array({ minLength: spec.minLength, maxLength: Math.min(spec.maxLength, 2048) }).map((u) => Buffer.from(u));
    case 'array': {
      const item = arbOf(spec.item);
      const constraints = { minLength: spec.minLength, maxLength: Math.min(spec.maxLength, Math.max(spec.minLength, 4)) };
      return spec.unique ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) }) : fc.array(item, constraints);
    }
    case 'object':
      return recordOf(spec.fields);
    case 'union':
      return fc.oneof(...Object.entries(spec.variants).map(([tag, s]) => arbOf(s).map((o) => ({ [spec.tag]: tag, ...(o as object) }))));
    case 'optional':
      return arbOf(spec.inner);
  }
}

export function recordOf(fields: Readonly<Record<string, Schema<unknown>>>): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredKeys: string[] = [];
  for (const [k, s] of Object.entries(fields)) {
    model[k] = arbOf(s);
    if (!s.optional) requiredKeys.push(k);
  }
  return fc.record(model, { requiredKeys });
}

export function messageArb(def: MessageDef): fc.Arbitrary<any> {
  return recordOf(def.fields).map((fields) => {
    const m: Record<string, unknown> = { type: def.type, ...fields };
    // Cross-field rules at message level: a superblock's CRC covers its payload; a stream's
    // device minimum does not exceed its maximum; a run lists one CRC per superblock.
    if (def === Superblock) m.crc = crc32c(m.payload as Buffer) >>> 0;
    if ((def === StreamDefine || def === StreamDefined) && typeof m.minDevices === 'number' && typeof m.maxDevices === 'number' && m.minDevices > m.maxDevices)
      [m.minDevices, m.maxDevices] = [m.maxDevices, m.minDevices];
    if (def === RunPlaced || def === RunMoved) m.crcs = (m.crcs as number[]).concat(new Array(m.superblocks as number).fill(7)).slice(0, m.superblocks as number);
    // a verification is ok exactly when it found no problem (the count may exceed the problems listed)
    if (def === VolumeVerified) {
      m.problemCount = Math.max(m.problemCount as number, (m.problems as unknown[]).length);
      m.ok = m.problemCount === 0;
    }
    if (def === ClientFileVerified) m.ok = (m.problems as unknown[]).length === 0;
    if (def === VolumesReclaimed) m.ok = (m.volumes as Array<{ outcome: string }>).every((v) => v.outcome !== 'failed');
    return m;
  });
}

export function sample(def: MessageDef, seed = 42): any {
  return fc.sample(messageArb(def), { numRuns: 1, seed })[0];
}
