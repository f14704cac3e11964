import { API_BY_KEY, API_TABLE } from './api-table';
import { Reader } from './reader';
import { decodeHeader } from './header';
import { Writer } from './writer';

/* Golden bytes from a real client: every request kafkajs 2.2.4 can send, at every version it
 * implements inside our advertised range, must decode completely (no byte left over), and our
 * responses must decode with kafkajs's own response decoders. */
const encodeRequest = require('kafkajs/src/protocol/request');
const Long = require('kafkajs/src/utils/long');

interface Case {
  readonly dir: string;
  readonly key: number;
  readonly args: unknown;
  /** Checks on the decoded request. */
  readonly expect: Record<string, unknown>;
}

const topicData = [{ topic: 'tp', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v' }] }] }];
const CASES: Case[] = [
  { dir: 'produce', key: 0, args: { acks: -1, timeout: 1000, topicData }, expect: { acks: -1, timeoutMs: 1000 } },
  {
    dir: 'fetch',
    key: 1,
    args: { replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic: 'tp', partitions: [{ partition: 2, fetchOffset: '42', maxBytes: 1024 }] }], rackId: '' },
    expect: { maxWaitMs: 500, minBytes: 1, topics: [{ topic: 'tp', partitions: [{ partition: 2, fetchOffset: 42, partitionMaxBytes: 1024 }] }] },
  },
  { dir: 'listOffsets', key: 2, args: { topics: [{ topic: 'tp', partitions: [{ partition: 1, timestamp: -2 }] }] }, expect: { topics: [{ name: 'tp', partitions: [{ index: 1, timestamp: -2 }] }] } },
  { dir: 'metadata', key: 3, args: { topics: ['a', 'b'], allowAutoTopicCreation: false }, expect: { topics: ['a', 'b'] } },
  {
    dir: 'offsetCommit',
    key: 8,
    args: { groupId: 'g', groupGenerationId: 3, memberId: 'm', retentionTime: -1, topics: [{ topic: 'tp', partitions: [{ partition: 0, offset: '7' }] }] },
    expect: { groupId: 'g', topics: [{ name: 'tp', partitions: [{ index: 0, offset: 7, metadata: null }] }] },
  },
  { dir: 'offsetFetch', key: 9, args: { groupId: 'g', topics: [{ topic: 'tp', partitions: [{ partition: 0 }] }] }, expect: { groupId: 'g', topics: [{ name: 'tp', partitions: [0] }] } },
  { dir: 'findCoordinator', key: 10, args: { groupId: 'g' }, expect: { key: 'g', keyType: 0 } },
  {
    dir: 'joinGroup',
    key: 11,
    args: { groupId: 'g', sessionTimeout: 6000, rebalanceTimeout: 9000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([1, 2]) }] },
    expect: { groupId: 'g', sessionTimeoutMs: 6000, memberId: '', protocolType: 'consumer' },
  },
  { dir: 'heartbeat', key: 12, args: { groupId: 'g', groupGenerationId: 4, memberId: 'm' }, expect: { groupId: 'g', generationId: 4, memberId: 'm' } },
  { dir: 'leaveGroup', key: 13, args: { groupId: 'g', memberId: 'm' }, expect: { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: null }] } },
  {
    dir: 'syncGroup',
    key: 14,
    args: { groupId: 'g', generationId: 2, memberId: 'm', groupAssignment: [{ memberId: 'm', memberAssignment: Buffer.from([9]) }] },
    expect: { groupId: 'g', generationId: 2, memberId: 'm' },
  },
  { dir: 'describeGroups', key: 15, args: { groupIds: ['g1', 'g2'] }, expect: { groups: ['g1', 'g2'] } },
  { dir: 'listGroups', key: 16, args: {}, expect: {} },
  { dir: 'saslHandshake', key: 17, args: { mechanism: 'SCRAM-SHA-512' }, expect: { mechanism: 'SCRAM-SHA-512' } },
  { dir: 'apiVersions', key: 18, args: {}, expect: {} },
  {
    dir: 'createTopics',
    key: 19,
    args: { topics: [{ topic: 'nt', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }], timeout: 5000, validateOnly: true },
    expect: { timeoutMs: 5000, topics: [{ name: 'nt', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] }] },
  },
  { dir: 'deleteTopics', key: 20, args: { topics: ['x'], timeout: 5000 }, expect: { topicNames: ['x'], timeoutMs: 5000 } },
  {
    dir: 'deleteRecords',
    key: 21,
    args: { topics: [{ topic: 'tp', partitions: [{ partition: 1, offset: '12' }, { partition: 2, offset: '-1' }] }], timeout: 3000 },
    expect: { timeoutMs: 3000, topics: [{ name: 'tp', partitions: [{ index: 1, offset: 12 }, { index: 2, offset: -1 }] }] },
  },
  { dir: 'initProducerId', key: 22, args: { transactionalId: null, transactionTimeout: 5000 }, expect: { transactionalId: null } },
  { dir: 'saslAuthenticate', key: 36, args: { authBytes: Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63]) }, expect: { authBytes: Buffer.from('abc') } },
  { dir: 'createPartitions', key: 37, args: { topicPartitions: [{ topic: 'tp', count: 4 }], validateOnly: false, timeout: 5000 }, expect: { topics: [{ name: 'tp', count: 4 }] } },
  { dir: 'deleteGroups', key: 42, args: ['g1'], expect: { groupNames: ['g1'] } },
];

describe('request codecs against kafkajs-encoded bytes', () => {
  for (const c of CASES) {
    const api = API_BY_KEY.get(c.key)!;
    const { versions } = require(`kafkajs/src/protocol/requests/${c.dir}`);
    const mine = (versions as string[]).map(Number).filter((v) => v >= api.minVersion && v <= api.maxVersion);
    it.each(mine)(`${api.name} v%i decodes completely`, async (v) => {
      const { protocol } = require(`kafkajs/src/protocol/requests/${c.dir}`);
      const { request } = protocol({ version: v })(c.args);
      const framed = (await encodeRequest({ correlationId: 5, clientId: 'golden', request })).buffer as Buffer;
      expect(framed.readInt32BE(0)).toBe(framed.length - 4);
      const r = new Reader(framed, 4);
      const header = decodeHeader(r, false);
      expect(header).toEqual({ apiKey: c.key, apiVersion: v, correlationId: 5, clientId: 'golden' });
      const decoded = api.decodeRequest(r, v);
      expect(r.remaining).toBe(0);
      expect(decoded).toMatchObject(c.expect);
    });
  }
});

describe('response codecs decoded by kafkajs', () => {
  const respond = async (dir: string, key: number, v: number, res: unknown) => {
    const w = new Writer();
    API_BY_KEY.get(key)!.encodeResponse(w, v, res);
    const { protocol } = require(`kafkajs/src/protocol/requests/${dir}`);
    const { response } = protocol({ version: v })(dir === 'deleteGroups' ? [] : dir === 'deleteRecords' ? { topics: [{ topic: 't', partitions: [] }] } : {});
    const decoded = await response.decode(w.toBuffer());
    return response.parse(decoded);
  };

  it.each([0, 1, 2, 3, 4, 5, 6])('Metadata v%i', async (v) => {
    const out = await respond('metadata', 3, v, {
      brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9092 }],
      clusterId: 'c',
      controllerId: 0,
      topics: [{ errorCode: 0, name: 't', partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 0, replicas: [0], isr: [0] }] }],
    });
    expect(out.brokers[0]).toMatchObject({ nodeId: 0, host: '127.0.0.1', port: 9092 });
    expect(out.topicMetadata[0].partitionMetadata[0]).toMatchObject({ partitionId: 0, leader: 0 });
  });

  it.each([4, 5, 6, 7, 8, 9, 10, 11])('Fetch v%i carries the record bytes untouched', async (v) => {
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
    const batch = (await RecordBatch({ records: [Record({ offsetDelta: 0, key: 'k', value: 'hello' })], firstOffset: Long.fromInt(3) })).buffer;
    const out = await respond('fetch', 1, v, {
      topics: [{ topic: 't', partitions: [{ partition: 0, errorCode: 0, highWatermark: 4, logStartOffset: 0, records: batch }] }],
    });
    const p = out.responses[0].partitions[0];
    expect(p.highWatermark).toBe('4');
    expect(p.messages.map((m: { value: Buffer; offset: string }) => [m.offset, m.value.toString()])).toEqual([['3', 'hello']]);
  });

  it.each([3, 4, 5, 6, 7])('Produce v%i', async (v) => {
    const out = await respond('produce', 0, v, { topics: [{ name: 't', partitions: [{ index: 0, errorCode: 0, baseOffset: 12, logStartOffset: 0 }] }] });
    expect(out.topics[0].partitions[0]).toMatchObject({ partition: 0, errorCode: 0, baseOffset: '12' });
  });

  it.each([0, 1, 2])('ApiVersions v%i advertises the one version table', async (v) => {
    const out = await respond('apiVersions', 18, v, { errorCode: 0, apiKeys: API_TABLE.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })) });
    expect(out.apiVersions).toHaveLength(API_TABLE.length);
  });

  it.each([0, 1, 2, 3, 4, 5])('JoinGroup v%i', async (v) => {
    const out = await respond('joinGroup', 11, v, {
      errorCode: 0,
      generationId: 2,
      protocolName: 'RoundRobinAssigner',
      leader: 'm1',
      memberId: 'm1',
      members: [{ memberId: 'm1', groupInstanceId: null, metadata: Buffer.from([1]) }],
    });
    expect(out).toMatchObject({ generationId: 2, leaderId: 'm1', memberId: 'm1', groupProtocol: 'RoundRobinAssigner' });
  });

  it.each([0, 1])('DeleteRecords v%i', async (v) => {
    const out = await respond('deleteRecords', 21, v, { topics: [{ name: 't', partitions: [{ index: 0, lowWatermark: 42, errorCode: 0 }] }] });
    expect(out.topics[0]).toEqual({ topic: 't', partitions: [{ partition: 0, lowWatermark: 42n, errorCode: 0 }] });
  });

  it.each([0, 1])('SaslHandshake v%i', async (v) => {
    const out = await respond('saslHandshake', 17, v, { errorCode: 0, mechanisms: ['PLAIN', 'SCRAM-SHA-512'] });
    expect(out).toEqual({ errorCode: 0, enabledMechanisms: ['PLAIN', 'SCRAM-SHA-512'] });
  });

  it.each([0, 1])('SaslAuthenticate v%i carries the token and the session lifetime', async (v) => {
    const w = new Writer();
    API_BY_KEY.get(36)!.encodeResponse(w, v, { errorCode: 0, errorMessage: null, authBytes: Buffer.from('v=sig') });
    const { protocol } = require('kafkajs/src/protocol/requests/saslAuthenticate');
    const decoded = await protocol({ version: v })({ authBytes: Buffer.alloc(0) }).response.decode(w.toBuffer());
    expect(decoded.authBytes.subarray(4).toString()).toBe('v=sig');
    if (v === 1) expect(decoded.sessionLifetimeMs).toBe('0');
  });

  it.each([1, 2, 3, 4])('OffsetFetch v%i', async (v) => {
    const out = await respond('offsetFetch', 9, v, { errorCode: 0, topics: [{ name: 't', partitions: [{ index: 0, offset: -1, metadata: '', errorCode: 0 }] }] });
    expect(out.responses[0].partitions[0]).toMatchObject({ partition: 0, offset: '-1' });
  });
});
