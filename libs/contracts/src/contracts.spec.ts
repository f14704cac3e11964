// Contract tests: every message type round-trips through the one envelope, and every way
// of breaking a value is rejected with a ContractError naming the field. Valid messages are
// generated from the schemas themselves, so a new message type is covered without new code.
import { crc32c } from '@deltaflow/checksum';
import fc from 'fast-check';
import { messageArb, sample } from './testing/arbitraries';
import {
  ALL_MESSAGES,
  BlockChanged,
  ContractError,
  DeadLetter,
  ENVELOPE_MAGIC,
  RunPlaced,
  SaveRequested,
  StreamDefine,
  Superblock,
  TOPICS,
  decodeFrom,
  decodeMessage,
  defineMessage,
  encodeSuperblockParts,
  dlqTopic,
  int,
  readEnvelope,
  string,
  writeEnvelope,
  type MessageDef,
  type MessageOfType,
  type Schema,
} from './index';

function rejects(fn: () => unknown): ContractError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ContractError) return err;
    throw new Error(`expected a ContractError, got ${String(err)}`);
  }
  throw new Error('expected a ContractError, nothing was thrown');
}

/** Re-envelopes a message's fields after `mutate`, bypassing encode's validation. */
function rawValue(def: MessageDef, message: Record<string, unknown>, mutate: (fields: Record<string, unknown>, tails: (Uint8Array | null)[]) => void, version = def.version): Buffer {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) if (k !== 'type' && !def.bytesFields.includes(k)) fields[k] = v;
  const tails = def.bytesFields.map((k) => (message[k] as Uint8Array | undefined) ?? null);
  mutate(fields, tails);
  return writeEnvelope(def.type, version, fields, tails);
}

/** A value of the wrong JSON kind for a schema. */
function wrongKind(schema: Schema<unknown>): unknown {
  const kind = schema.spec.kind === 'optional' ? schema.spec.inner.spec.kind : schema.spec.kind;
  switch (kind) {
    case 'int':
    case 'decimal':
    case 'string':
    case 'enum':
      return true;
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'an array' };
    default:
      return 'not an object';
  }
}

describe('contracts', () => {
  it('covers every topic with at least one message type, and type names are unique', () => {
    const routes = new Set(ALL_MESSAGES.map((d) => d.route));
    for (const topic of Object.keys(TOPICS)) expect(routes.has(topic as never)).toBe(true);
    expect(new Set(ALL_MESSAGES.map((d) => d.type)).size).toBe(ALL_MESSAGES.length);
  });

  describe.each(ALL_MESSAGES.map((d) => [d.type, d] as const))('%s', (_type, def: MessageDef) => {
    it('round-trips through encode and decode (property)', () => {
      fc.assert(
        fc.property(messageArb(def), (message) => {
          const record = def.encode(message);
          const expected = def.validate(message);
          expect(decodeMessage(record.value)).toEqual(expected);
          expect(def.decode(record.value)).toEqual(expected);
          expect(record.headers).toEqual({ 'df-type': def.type, 'df-version': String(def.version) });
          if (def.route === 'dlq') {
            expect(record.topic).toBe(`${message.sourceTopic}.dlq`);
            expect(record.key).toBe(message.originalKey ?? null);
          } else {
            expect(record.topic).toBe(def.route);
            expect(decodeFrom(def.route, record.value)).toEqual(expected);
            const keyField = TOPICS[def.route].keyField;
            expect(record.key).toBe(message[keyField] === undefined ? null : String(message[keyField]));
          }
        }),
        { numRuns: 60 },
      );
    });

    it('keeps bulk bytes out of the JSON header', () => {
      const message = sample(def);
      const env = readEnvelope(def.encode(message).value);
      for (const k of def.bytesFields) expect(env.fields).not.toHaveProperty(k);
      expect(env.bytes.length).toBe(def.bytesFields.length);
    });

    it('rejects every truncation as TRUNCATED', () => {
      const value = def.encode(sample(def)).value;
      for (let cut = 0; cut < value.length; cut += Math.max(1, Math.floor(value.length / 97))) {
        const err = rejects(() => decodeMessage(value.subarray(0, cut)));
        expect(err.code).toBe('TRUNCATED');
      }
    });

    it('names each missing required field', () => {
      const message = sample(def);
      for (const [field, schema] of Object.entries(def.fields)) {
        if (schema.optional) continue;
        const value = rawValue(def, message, (fields, tails) => {
          const i = def.bytesFields.indexOf(field);
          if (i >= 0) tails[i] = null;
          else delete fields[field];
        });
        const err = rejects(() => decodeMessage(value));
        expect(err.code).toBe('VALIDATION');
        expect(err.field).toBe(field);
        expect(err.message).toBe(`${def.type}.${field}: required field missing`);
      }
    });

    it('names each wrong-typed field, and a field that does not exist', () => {
      const message = sample(def);
      for (const [field, schema] of Object.entries(def.fields)) {
        const value = rawValue(def, message, (fields, tails) => {
          const i = def.bytesFields.indexOf(field);
          if (i >= 0) {
            tails.splice(i, 1, null);
            fields[field] = 'bytes in JSON';
          } else {
            fields[field] = wrongKind(schema);
          }
        });
        const err = rejects(() => decodeMessage(value));
        expect(err.code).toBe('VALIDATION');
        expect(err.field).toBe(field);
        expect(err.message.startsWith(`${def.type}.${field}: `)).toBe(true);
        // JSON null is not "absent": optional fields reject it too.
        if (def.bytesFields.includes(field)) continue;
        const withNull = rawValue(def, message, (fields) => (fields[field] = null));
        expect(rejects(() => decodeMessage(withNull)).field).toBe(field);
      }
      const extra = rawValue(def, message, (fields) => (fields.surprise = 1));
      const err = rejects(() => decodeMessage(extra));
      expect([err.code, err.field, err.message]).toEqual(['VALIDATION', 'surprise', `${def.type}.surprise: unknown field`]);
    });

    it('rejects a newer version and a version 0', () => {
      const message = sample(def);
      for (const version of [def.version + 1, 0]) {
        const err = rejects(() => decodeMessage(rawValue(def, message, () => undefined, version)));
        expect(err.code).toBe('UNSUPPORTED_VERSION');
        expect(err.field).toBe('version');
      }
    });

    it('refuses to encode an invalid message (nothing is produced)', () => {
      const message = sample(def);
      const [field] = Object.keys(def.fields);
      const err = rejects(() => def.encode({ ...message, [field]: wrongKind(def.fields[field]) }));
      expect(err.field).toBe(field);
    });
  });

  it('reports the offending value as in the brief', () => {
    const message = { ...sample(BlockChanged), rabn: -3 };
    const err = rejects(() => BlockChanged.encode(message));
    expect(err.message).toBe('BlockChanged.rabn: expected positive integer, got -3');
    expect(err.field).toBe('rabn');
    expect(err.messageType).toBe('BlockChanged');
  });

  it('names nested fields with their path and keeps names inside their directory', () => {
    const base = sample(SaveRequested);
    const err = rejects(() => SaveRequested.encode({ ...base, destination: { kind: 'directory', name: '../etc' } }));
    expect(err.field).toBe('destination.name');
    const kindErr = rejects(() => SaveRequested.encode({ ...base, destination: { kind: 'tape', name: 'x' } }));
    expect(kindErr.field).toBe('destination.kind');
    const range = rejects(() =>
      decodeMessage(rawValue(ALL_MESSAGES.find((d) => d.type === 'UtilityChanged')!, { type: 'UtilityChanged', dbid: 1, lsn: 1, file: 1, parts: ['DATA'] }, (f) => {
        f.ranges = [{ area: 'DATA', from: 1, to: 2 }, { area: 'DATA', from: 9, to: 3 }];
      })),
    );
    expect(range.field).toBe('ranges[1].to');
    expect(range.message).toBe('UtilityChanged.ranges[1].to: expected ≥ from (9), got 3');
  });

  it('checks the superblock CRC on decode', () => {
    const message = sample(Superblock);
    const value = rawValue(Superblock, message, (fields) => (fields.crc = ((message.crc as number) ^ 1) >>> 0));
    const err = rejects(() => decodeMessage(value));
    expect([err.code, err.field]).toEqual(['VALIDATION', 'crc']);
    const big = { ...message, payload: Buffer.alloc(256 * 1024 + 1) };
    expect(rejects(() => Superblock.encode({ ...big, crc: crc32c(big.payload) >>> 0 })).field).toBe('payload');
  });

  it('sov: a bare stream definition is valid, min > max devices is not, a v1 definition is upgraded to bytes/s', () => {
    expect(StreamDefine.create({ stream: 'NIGHTLY' })).toEqual({ type: 'StreamDefine', stream: 'NIGHTLY' });
    expect(rejects(() => StreamDefine.create({ stream: 'S', minDevices: 3, maxDevices: 2 })).field).toBe('maxDevices');
    const v1 = writeEnvelope('StreamDefine', 1, { stream: 'S', maxDevices: 2, volumeCapacity: 1 << 30, objectiveMBps: 300, deviceRateMBps: 160 }, []);
    expect(decodeMessage(v1)).toEqual({ type: 'StreamDefine', stream: 'S', maxDevices: 2, volumeCapacity: 1 << 30, objectiveBytesPerSec: 300e6, deviceRateBytesPerSec: 160e6 });
  });

  it('sov: a run lists one CRC per superblock; messages about a client file name its incarnation', () => {
    const run = sample(RunPlaced);
    expect(rejects(() => RunPlaced.encode({ ...run, crcs: [...run.crcs, 1] })).field).toBe('crcs');
    for (const def of ALL_MESSAGES.filter((d) => d.route.startsWith('sov.') && 'clientFile' in d.fields)) expect(Object.keys(def.fields)).toContain('incarnation');
    // version 1 of a message that gained the incarnation cannot be read as version 2
    const old = writeEnvelope('ClientFileClosed', 1, { stream: 'S', clientFile: 'c', superblocks: 1, bytes: 1, occurredAt: 1 }, []);
    expect(rejects(() => decodeMessage(old)).code).toBe('UNSUPPORTED_VERSION');
  });

  it('rejects foreign and broken envelopes with specific codes', () => {
    const good = BlockChanged.encode(sample(BlockChanged)).value;
    const json = Buffer.from(JSON.stringify({ type: 'BlockChanged' }));
    expect(rejects(() => decodeMessage(json)).field).toBe('envelope.magic');
    expect(rejects(() => decodeMessage(null)).code).toBe('VALIDATION');
    const v2 = Buffer.from(good);
    v2[1] = 2;
    expect(rejects(() => decodeMessage(v2)).code).toBe('UNSUPPORTED_VERSION');
    const badJson = Buffer.concat([Buffer.from([ENVELOPE_MAGIC, 1, 0, 0, 0, 4]), Buffer.from('{"ty')]);
    expect([rejects(() => decodeMessage(badJson)).code, rejects(() => decodeMessage(badJson)).field]).toEqual(['VALIDATION', 'envelope.json']);
    const unknown = writeEnvelope('NoSuchThing', 1, {}, []);
    expect(rejects(() => decodeMessage(unknown)).code).toBe('UNKNOWN_TYPE');
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    expect(rejects(() => decodeMessage(trailing)).code).toBe('VALIDATION');
    const wrongTopic = rejects(() => decodeFrom('dsf.plog', good));
    expect(wrongTopic.code).toBe('UNKNOWN_TYPE');
    expect(() => BlockChanged.decode(Superblock.encode(sample(Superblock)).value)).toThrow(ContractError);
  });

  it('never throws anything but a ContractError on arbitrary bytes (fuzz)', () => {
    const valid = ALL_MESSAGES.map((d) => d.encode(sample(d)).value);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(255)).map(([v, at, b]) => {
        const copy = Buffer.from(v);
        copy[at % copy.length] = b;
        return copy;
      })), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ContractError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('routes dead letters to <topic>.dlq keyed like the original', () => {
    const dead = DeadLetter.create({
      sourceTopic: 'dsf.block-changes',
      partition: 3,
      offset: '9007199254740993',
      consumerGroup: 'change-logger',
      reason: 'BlockChanged.rabn: expected positive integer, got -3',
      errorCode: 'VALIDATION',
      field: 'rabn',
      originalKey: '7',
      originalValue: Buffer.from([1, 2, 3]),
      occurredAt: 1,
    });
    const record = DeadLetter.encode(dead);
    expect(record.topic).toBe(dlqTopic('dsf.block-changes'));
    expect(record.key).toBe('7');
    expect(decodeFrom('dsf.block-changes.dlq', record.value)).toEqual(dead);
  });

  it('upgrades older versions through upcasters and refuses gaps', () => {
    const V2 = defineMessage({
      type: 'TestRenamed',
      version: 3,
      topic: 'dsf.events',
      fields: { dbid: int({ min: 1, max: 10 }), label: string() },
      upcasters: { 2: (f) => ({ dbid: f.dbid, label: f.name }) },
    });
    expect(V2.decode(writeEnvelope('TestRenamed', 2, { dbid: 1, name: 'x' }, []))).toEqual({ type: 'TestRenamed', dbid: 1, label: 'x' });
    expect(rejects(() => V2.decode(writeEnvelope('TestRenamed', 1, { dbid: 1 }, []))).code).toBe('UNSUPPORTED_VERSION');
  });
});

describe('static types', () => {
  it('infers message shapes and narrows decoded unions', () => {
    const m: MessageOfType<'BlockChanged'> = BlockChanged.create({ dbid: 1, area: 'ASSO', rabn: 1, lsn: 1, txn: 0, image: Buffer.from([1]) });
    // @ts-expect-error area is 'ASSO' | 'DATA'
    const bad: MessageOfType<'BlockChanged'> = { ...m, area: 'INDEX' };
    void bad;
    const decoded = decodeFrom('dsf.block-changes', BlockChanged.encode(m).value);
    switch (decoded.type) {
      case 'BlockChanged':
        expect(decoded.image).toEqual(Buffer.from([1]));
        break;
      case 'EtSync':
      case 'UtilityChanged':
      case 'NucleusState':
        throw new Error(`unexpected ${decoded.type}`);
      default: {
        const never: never = decoded;
        throw new Error(`unreachable ${String(never)}`);
      }
    }
    const s: MessageOfType<'SaveRequested'>['destination'] = { kind: 'stream', stream: 'S1' };
    expect(s.kind).toBe('stream');
  });
});

describe('version 1 records written before the vocabulary settled', () => {
  it('a v1 SaveRequested/SaveStarted (mode) decodes with kind', () => {
    const v1 = writeEnvelope('SaveRequested', 1, { correlationId: 'c', dbid: 1, mode: 'delta', online: true, destination: { kind: 'directory', name: 'd1' } }, []);
    expect(decodeMessage(v1)).toEqual({ type: 'SaveRequested', correlationId: 'c', dbid: 1, kind: 'delta', online: true, destination: { kind: 'directory', name: 'd1' } });
  });

  it('v1 dsf.dlog records (captureId, marks with area ranges) decode as v2', () => {
    const captured = writeEnvelope(
      'DlogCaptured',
      1,
      { dbid: 1, captureId: 's', correlationId: 's', syncLsn: 4, ranges: [], marks: [{ file: 2, parts: ['INDEX'], ranges: [{ area: 'ASSO', from: 40, to: 41 }, { area: 'DATA', from: 7, to: 9 }] }], occurredAt: 1 },
      [],
    );
    expect(decodeMessage(captured)).toEqual({
      type: 'DlogCaptured',
      dbid: 1,
      correlationId: 's',
      syncLsn: 4,
      ranges: [],
      marks: [{ file: 2, parts: ['INDEX'], extents: [{ part: 'AC', from: 40, to: 41 }, { part: 'DATA', from: 7, to: 9 }] }],
      occurredAt: 1,
    });
    expect(decodeMessage(writeEnvelope('DlogCaptureAwaited', 1, { dbid: 1, captureId: 's', syncLsn: 4, occurredAt: 1 }, []))).toEqual({
      type: 'DlogCaptureAwaited',
      dbid: 1,
      correlationId: 's',
      syncLsn: 4,
      occurredAt: 1,
    });
    expect(decodeMessage(writeEnvelope('DlogDropped', 1, { dbid: 1, captureId: 's', correlationId: 's', occurredAt: 1 }, []))).toEqual({ type: 'DlogDropped', dbid: 1, correlationId: 's', occurredAt: 1 });
  });
});

describe('encodeParts (a value in parts, for producers that write the bytes fields uncopied)', () => {
  it.each(ALL_MESSAGES.map((d) => [d.type, d] as const))('%s: joins to exactly what encode produces', (_type, def: MessageDef) => {
    fc.assert(
      fc.property(messageArb(def), (m) => {
        const whole = def.encode(m);
        const parts = def.encodeParts(m);
        expect(Buffer.concat([...parts.value]).equals(whole.value)).toBe(true);
        expect({ topic: parts.topic, key: parts.key, headers: parts.headers }).toEqual({ topic: whole.topic, key: whole.key, headers: whole.headers });
      }),
      { numRuns: 20 },
    );
  });

  it('leaves a superblock payload uncopied (the same memory, after the envelope head)', () => {
    const payload = Buffer.alloc(4096, 7);
    const r = encodeSuperblockParts({ stream: 'S', clientFile: 'f', incarnation: '12345678-1234-4234-8234-123456789abc', seq: 0, last: true, payload, crc: crc32c(payload) });
    expect(r.value).toHaveLength(2);
    expect(r.value[1]).toBe(payload);
    expect(decodeFrom('sov.superblocks', Buffer.concat([...r.value]))).toMatchObject({ type: 'Superblock', seq: 0, last: true });
  });
});
