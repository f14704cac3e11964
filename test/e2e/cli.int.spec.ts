import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { SMALL_GEOMETRY } from '@deltaflow/blocks/testing';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startSaveWriter } from '../../apps/save-writer/src/app';
import { runCli } from '../../apps/cli/src/run';

jest.setTimeout(120_000);

let kafka: EmbeddedKafka;
let dataDir: string;
let writer: Awaited<ReturnType<typeof startSaveWriter>>;

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dsf-cli-int-'));
  kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka') });
  dataDir = path.join(root, 'data');
  BlockDatabase.create(path.join(dataDir, 'databases', '5'), { dbid: 5, geometry: SMALL_GEOMETRY }).close();
  writer = await startSaveWriter({ brokers: kafka.brokers, dataDir, fsync: false, log: () => undefined });
});

afterAll(async () => {
  await writer?.stop();
  await kafka?.stop();
});

async function dsf(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: { KAFKA_BROKERS: kafka.brokers.join(',') }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('dsf against the embedded broker and the save writer', () => {
  it('fails with the reason and a non-zero exit when the save is refused', async () => {
    const r = await dsf('save', '--dbid', '5', '--delta', '--offline', '--dest', 'd1', '--timeout', '60');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/save failed: NO_FULL_SAVE: .*full save/);
  });

  it('runs an offline full save and reports its DSID and data set', async () => {
    const r = await dsf('save', '--dbid', '5', '--full', '--offline', '--dest', 'full-5', '--timeout', '60');
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toMatch(/save started: DSID 1\/0\//);
    expect(r.out).toMatch(/save completed: DSID 1\/0\/.*blocks.*in full-5/);
    expect(fs.existsSync(path.join(dataDir, 'datasets', 'full-5'))).toBe(true);
  });

  it('--json: one object with the save\'s DSID in its text form, and the refusal\'s code', async () => {
    const ok = await dsf('save', '--dbid', '5', '--full', '--offline', '--dest', 'full-5b', '--timeout', '60', '--json', '--id', 'json-full');
    expect(ok.code).toBe(0);
    expect(ok.out.split('\n')).toHaveLength(1);
    expect(JSON.parse(ok.out)).toEqual({
      ok: true,
      command: 'save',
      correlationId: 'json-full',
      event: 'SaveCompleted',
      dbid: 5,
      dsid: expect.stringMatching(/^2\/0\/\S+@\S+$/),
      kind: 'full',
      online: false,
      location: { kind: 'directory', name: 'full-5b' },
      blocks: expect.any(Number),
      bytes: expect.any(Number),
      digest: expect.stringMatching(/^[0-9a-f]+$/),
    });
    const refused = await dsf('save', '--dbid', '5', '--full', '--offline', '--dest', 'full-5b', '--timeout', '60', '--json');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toEqual({ ok: false, command: 'save', correlationId: expect.any(String), event: 'SaveFailed', dbid: 5, code: 'ALREADY_EXISTS', reason: 'data set full-5b already exists' });
    expect(refused.err).toMatch(/^dsf: save failed: ALREADY_EXISTS: data set full-5b already exists$/m);
  });

  it('exits 2 with the usage on bad arguments, sending nothing', async () => {
    const r = await dsf('save', '--dbid', '5', '--full', '--dest', '../escape');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--dest: expected a plain data set name/);
  });
});
