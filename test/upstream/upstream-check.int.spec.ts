/**
 * `dsf upstream check` on the embedded broker: the reference nucleus's stream is clean; a broken
 * upstream's stream is reported per reason with its first offsets (exit 1); --from-offset,
 * --limit and --json; a topic that does not exist (not created by the check); an unreachable
 * broker is exit 3.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { sampleGeometry } from '@deltaflow/blocks';
import { encodeMessage, writeEnvelope, type AnyMessage } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { runCli } from '../../apps/cli/src/run';
import { startNucleusSim, type NucleusSim } from '../../apps/nucleus-sim/src/app';

jest.setTimeout(120_000);

const TOPIC = 'dsf.block-changes';
let root: string;
let kafka: EmbeddedKafka;
let producer: Producer;
let admin: ReturnType<Kafka['admin']>;
let nucleus: NucleusSim;
let geometryFile: string;

async function dsf(...argv: string[]): Promise<{ code: number; out: string[]; err: string[]; json?: any }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: { KAFKA_BROKERS: kafka.brokers.join(',') }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err, ...(argv.includes('--json') ? { json: JSON.parse(out[0]) } : {}) };
}

async function send(partition: number, values: Array<{ key: string; value: Buffer }>): Promise<void> {
  await producer.send({ topic: TOPIC, acks: -1, messages: values.map((v) => ({ ...v, partition })) });
}
const enc = (m: AnyMessage) => ({ key: String((m as { dbid: number }).dbid), value: encodeMessage(m).value });

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-upstream-check-'));
  kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka'), fsync: 'never' });
  const client = new Kafka({ clientId: 'upstream-check-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  admin = client.admin();
  await admin.connect();
  producer = client.producer();
  await producer.connect();
  geometryFile = path.join(root, 'geometry.json');
  fs.writeFileSync(geometryFile, JSON.stringify(sampleGeometry()));
});

afterAll(async () => {
  await nucleus?.stop().catch(() => undefined);
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await kafka?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('dsf upstream check', () => {
  it('a topic that does not exist: nothing of the database (exit 1), and the check does not create it', async () => {
    const r = await dsf('upstream', 'check', '--dbid', '1', '--geometry', geometryFile);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('topic dsf.block-changes does not exist');
    expect(r.err.join('\n')).toContain('NO_RECORDS');
    expect(await admin.listTopics()).not.toContain(TOPIC);
  });

  let nucleusPartition = 0;
  let other = 1;
  let nucleusRecords = 0;
  it('the reference nucleus (transactions, a utility, syncs) is clean: exit 0', async () => {
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: true });
    nucleus = await startNucleusSim({ brokers: kafka.brokers, dataDir: path.join(root, 'nucleus'), dbid: 1, autoStart: false, syncIntervalMs: 0, workload: { blocksPerTxn: 3 } });
    await nucleus.runTransactions(15);
    await nucleus.sync('one');
    await nucleus.runUtility();
    await nucleus.runTransactions(5);
    await nucleus.sync('two');
    await nucleus.setActive(false);
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    nucleusPartition = offsets.find((p) => p.high !== '0')!.partition;
    nucleusRecords = Number(offsets.find((p) => p.partition === nucleusPartition)!.high);
    other = 1 - nucleusPartition;

    const r = await dsf('upstream', 'check', '--dbid', '1', '--geometry', nucleus.databaseDir);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: [] });
    expect(r.out[0]).toMatch(new RegExp(`^upstream check of database 1 on dsf.block-changes: \\d+ records read \\(partition ${nucleusPartition}: offsets 0\\.\\.\\d+\\)$`));
    expect(r.out[1]).toMatch(/^ {2}\d+ of database 1 \(LSN 1\.\.\d+\), 3 sync points, 0 exact repeats \(skipped\), 0 of other databases, 0 undecodable$/);
    expect(r.out[2]).toBe('  clean: a change logger accepts every record of database 1');
  });

  it('a broken upstream: each reason with its first offsets (exit 1, --json), and nothing counted against the clean one', async () => {
    const g = sampleGeometry();
    const img = (n = 4096) => Buffer.alloc(n, 7);
    const bad: Array<{ key: string; value: Buffer }> = [
      enc({ type: 'NucleusState', dbid: 2, lsn: 1, active: true, at: 1 }), // 0
      enc({ type: 'BlockChanged', dbid: 2, area: 'DATA', rabn: 5, lsn: 2, txn: 1, image: img() }), // 1
      enc({ type: 'BlockChanged', dbid: 2, area: 'DATA', rabn: 6, lsn: 2, txn: 1, image: img() }), // 2 LSN repeated, not the same record
      enc({ type: 'BlockChanged', dbid: 2, area: 'DATA', rabn: g.data.blocks + 1, lsn: 3, txn: 1, image: img() }), // 3 outside DATA
      enc({ type: 'BlockChanged', dbid: 2, area: 'ASSO', rabn: 20, lsn: 4, txn: 1, image: img(512) }), // 4 not one block
      { key: '2', value: writeEnvelope('BlockChanged', 1, { dbid: 2, area: 'INDEX', rabn: 9, lsn: 5, txn: 1 }, [img()]) }, // 5 no such area
      { key: '2', value: Buffer.from('{"type":"BlockChanged"}') }, // 6 not an envelope
      enc({ type: 'UtilityChanged', dbid: 2, lsn: 6, file: 1, parts: ['DATA'], ranges: [{ area: 'DATA', from: 380, to: 390 }] }), // 7 crosses into file 2
      enc({ type: 'SaveRequested', correlationId: 'c', dbid: 2, kind: 'full', online: true, destination: { kind: 'directory', name: 'x' } }), // 8 not an upstream message
      ...Array.from({ length: 8 }, (_, i) => enc({ type: 'BlockChanged', dbid: 2, area: 'DATA', rabn: 10 + i, lsn: 7 + i, txn: 2, image: img() })), // 9..16
      enc({ type: 'EtSync', dbid: 2, lsn: 15, syncId: 's1' }), // 17
      enc({ type: 'BlockChanged', dbid: 2, area: 'DATA', rabn: 30, lsn: 16, txn: 3, image: img() }), // 18
      enc({ type: 'EtSync', dbid: 2, lsn: 17, syncId: 's2' }), // 19
    ];
    await send(other, bad);

    const r = await dsf('upstream', 'check', '--dbid', '2', '--geometry', geometryFile, '--sync-gap-records', '5', '--json');
    expect(r.code).toBe(1);
    const j = r.json;
    expect(j).toMatchObject({ ok: false, command: 'upstream check', dbid: 2, records: bad.length + nucleusRecords, ofDatabase: bad.length - 3, undecodable: 3, otherDatabases: nucleusRecords, syncPoints: 2 });
    const byReason = Object.fromEntries(j.problems.map((p: any) => [p.reason, { count: p.count, offsets: p.first.map((f: any) => Number(f.offset)), fields: p.first.map((f: any) => f.field ?? null) }]));
    expect(byReason).toEqual({
      CONTRACT_UNKNOWN_TYPE: { count: 1, offsets: [8], fields: ['type'] },
      CONTRACT_VALIDATION: { count: 2, offsets: [5, 6], fields: ['area', 'envelope.magic'] },
      IMAGE_LENGTH: { count: 1, offsets: [4], fields: ['image'] },
      LSN_NOT_INCREASING: { count: 1, offsets: [2], fields: ['lsn'] },
      RABN_OUT_OF_RANGE: { count: 1, offsets: [3], fields: ['rabn'] },
      VALIDATION: { count: 1, offsets: [7], fields: ['ranges'] },
      SYNC_GAP: { count: 1, offsets: [7], fields: [null] }, // the 6th decodable record of database 2 since the start
    });
    expect(j.problems.map((p: any) => p.reason)).toEqual(['CONTRACT_UNKNOWN_TYPE', 'CONTRACT_VALIDATION', 'IMAGE_LENGTH', 'LSN_NOT_INCREASING', 'RABN_OUT_OF_RANGE', 'VALIDATION', 'SYNC_GAP']);
    expect(j.problems.find((p: any) => p.reason === 'CONTRACT_VALIDATION').first[0].message).toBe("BlockChanged.area: expected one of 'ASSO' | 'DATA', got \"INDEX\"");

    // the text names the offsets as partition@offset
    const text = await dsf('upstream', 'check', '--dbid', '2', '--geometry', geometryFile, '--sync-gap-records', '5');
    expect(text.code).toBe(1);
    expect(text.err).toContain(`    at ${other}@3 LSN 3: BlockChanged: RABN ${g.data.blocks + 1} is outside DATA 1..${g.data.blocks} of database 2`);

    // the broken upstream's partition is not the nucleus's: database 1 stays clean
    expect((await dsf('upstream', 'check', '--dbid', '1', '--geometry', nucleus.databaseDir)).code).toBe(0);
  });

  it('--from-offset past the damage is clean; --limit stops early', async () => {
    const from = await dsf('upstream', 'check', '--dbid', '2', '--geometry', geometryFile, '--from-offset', '9', '--sync-gap-records', '8', '--json');
    expect(from.code).toBe(0);
    // --from-offset applies to every partition: the nucleus's from offset 9 too
    expect(from.json).toMatchObject({ ok: true, records: 11 + nucleusRecords - 9, ofDatabase: 11, syncPoints: 2, lsn: { first: 7, last: 17 } });
    expect(from.json.partitions.find((p: any) => p.partition === other)).toMatchObject({ from: '9', last: '19' });

    // --limit counts records of any database, from every partition as they arrive
    const limited = await dsf('upstream', 'check', '--dbid', '2', '--geometry', geometryFile, '--limit', '5', '--json');
    expect(limited.json.records).toBe(5);
    expect(limited.json.ofDatabase + limited.json.otherDatabases + limited.json.undecodable).toBe(5);
    expect(limited.json.partitions.reduce((n: number, p: any) => n + (p.last === null ? 0 : Number(p.last) - Number(p.from) + 1), 0)).toBe(5);
  });

  it('records of one database on two partitions are a problem', async () => {
    await send(0, [enc({ type: 'EtSync', dbid: 3, lsn: 1, syncId: 'a' })]);
    await send(1, [enc({ type: 'EtSync', dbid: 3, lsn: 2, syncId: 'b' })]);
    const r = await dsf('upstream', 'check', '--dbid', '3', '--geometry', geometryFile, '--json');
    expect(r.code).toBe(1);
    expect(r.json.problems.map((p: any) => p.reason)).toContain('PARTITIONS');
  });

  it('an unreachable broker is exit 3', async () => {
    const err: string[] = [];
    const code = await runCli(['upstream', 'check', '--dbid', '1', '--geometry', geometryFile, '--json'], { env: { KAFKA_BROKERS: '127.0.0.1:1' }, out: (l) => err.push(l), err: (l) => err.push(l) });
    expect(code).toBe(3);
    expect(JSON.parse(err[0])).toMatchObject({ ok: false, code: 'INFRASTRUCTURE', command: 'upstream check' });
  });
});
