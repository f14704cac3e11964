/*
 * Reclamation end to end (issue 16), on the embedded broker and PostgreSQL: the stream multiplexer
 * a child process (apps/stream-multiplexer main.ts), the catalog in process, dsf as the operator
 * types it. Client files are written to a stream of small volumes, some expire (`dsf expire`), the
 * mostly-expired volume is reclaimed (`dsf volumes reclaim --threshold P`) while the multiplexer is
 * killed (-9) after its first RunMoved and restarted (the command is redelivered): the catalog
 * follows the moved runs, every live file restores byte-identical, the expired files are neither
 * listed nor readable nor found again by a scan, the old volume is scratch and its file gone, no
 * superblock is placed twice; replay equals live. An encrypted stream is refused without an
 * operator key.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType, TopicMessage } from '@deltaflow/contracts';
import { ClientFileReader, SovClient } from '@deltaflow/service-kit';
import { pollUntil, tempDir, testDatabase, testKafka, TopicCollector, type TestDatabase, type TestKafka } from '@deltaflow/testing';
import { startCatalog, type RunningCatalog } from '../../apps/catalog/src/app';
import { runCli } from '../../apps/cli/src/run';
import { content, sha256 } from '../../apps/stream-multiplexer/src/testing/harness';
import { startMultiplexerProcess } from './support/multiplexer-process';

jest.setTimeout(180_000);

const MiB = 1 << 20;
let kafka: TestKafka;
let db: TestDatabase;
let dir: string;
let tapes: string;
let catalog: RunningCatalog;
let events: TopicCollector<TopicMessage<'sov.events'>>;
let sov: SovClient;
let child: ChildProcess | undefined;
let output = '';

function startMultiplexer(): Promise<ChildProcess> {
  return startMultiplexerProcess(
    {
      KAFKA_BROKERS: kafka.brokers.join(','),
      DELTAFLOW_DATA_DIR: dir,
      SOV_VOLUME_DIR: tapes,
      SOV_VOLUME_CAPACITY: String(4 * MiB),
      SOV_RUN_SUPERBLOCKS: '1',
      SOV_RUN_LATENCY_MS: '50',
      SOV_SYNC_MS: '20',
      SOV_CHECKPOINT_BYTES: String(MiB),
      SOV_OPERATOR_KEY_FILE: '',
      SOV_ENCRYPTION: 'none',
    },
    (text) => (output += text),
  );
}

async function dsf(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: { KAFKA_BROKERS: kafka.brokers.join(','), CATALOG_URL: catalog.httpUrl }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, stdout: out.join('\n'), stderr: err.join('\n'), json: () => JSON.parse(out.join('\n')) };
}

const get = async <T>(p: string): Promise<T> => (await (await fetch(`${catalog.httpUrl}${p}`)).json()) as T;
const post = async <T>(p: string, body: unknown): Promise<T> => {
  const res = await fetch(`${catalog.httpUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const until = <T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> => pollUntil(what, fn, { ms });
/** The catalog folded the reclamation: V00001 scratch (VolumeScratched follows every RunMoved of it on the stream's partition). */
const catalogFollowed = () =>
  until('the catalog to fold the reclamation', async () => {
    const vols = await get<Array<{ volser: string; state: string }>>('/volumes');
    return vols.find((v) => v.volser === 'V00001')?.state === 'scratch' ? true : undefined;
  });

beforeAll(async () => {
  kafka = await testKafka();
  db = await testDatabase();
  dir = tempDir('e2e-reclaim');
  tapes = path.join(dir, 'tapes');
  events = await new TopicCollector<TopicMessage<'sov.events'>>(kafka.brokers, 'sov.events').start();
  child = await startMultiplexer();
  catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: db.url, httpPort: 0, dataDir: dir, volumeDir: tapes });
  sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'e2e-reclaim' });
});

afterAll(async () => {
  if (process.env.RECLAIM_E2E_LOG) fs.writeFileSync(process.env.RECLAIM_E2E_LOG, output);
  child?.kill('SIGTERM');
  await sov?.close();
  await catalog?.stop();
  await events?.stop();
  await db?.drop();
  await kafka?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('an encrypted stream is refused without an operator key; expired files are reclaimed away across a kill -9, live ones move and restore byte-identical', async () => {
  // no SOV_OPERATOR_KEY_FILE: dsf shows the multiplexer's refusal, nothing is defined
  const enc = await dsf('stream', 'define', 'SECRET', '--encryption', 'aes-256-gcm', '--json');
  expect(enc.code).toBe(1);
  expect(enc.json()).toMatchObject({ ok: false, code: 'NO_OPERATOR_KEY', error: expect.stringMatching(/no operator key \(set SOV_OPERATOR_KEY_FILE\)/) });
  expect((await dsf('stream', 'define', 'RECL')).code).toBe(0);
  expect(events.messages.some((e) => e.type === 'StreamDefined' && e.stream === 'SECRET')).toBe(false);

  // first the files that expire soon and a small live one, interleaved on V00001; then a large live one fills it and goes on to V00002
  const soon = Date.now() + 1000;
  const later = Date.now() + 86_400_000;
  const files = [
    { name: 'gone-0', data: content('gone-0', 1.2 * MiB), expiresAt: soon },
    { name: 'gone-1', data: content('gone-1', 1.2 * MiB + 17), expiresAt: soon },
    { name: 'keep-0', data: content('keep-0', 0.4 * MiB + 5), expiresAt: later },
    { name: 'keep-1', data: content('keep-1', 3 * MiB + 11), expiresAt: later },
  ];
  const write = async (batch: typeof files) => {
    const ws = await Promise.all(batch.map((f) => sov.openClientFile({ stream: 'RECL', clientFile: f.name, kind: 'other', expiresAt: f.expiresAt })));
    for (let off = 0; batch.some((f) => off < f.data.length); off += 128 << 10) await Promise.all(ws.map((w, i) => (off < batch[i].data.length ? w.write(batch[i].data.subarray(off, off + (128 << 10))) : Promise.resolve())));
    return Promise.all(ws.map((w) => w.finish()));
  };
  const written = [...(await write(files.slice(0, 3))), ...(await write(files.slice(3)))];
  const inc = new Map(written.map((w) => [w.clientFile, w.incarnation]));
  expect(written.slice(0, 3).map((w) => w.volsers)).toEqual([['V00001'], ['V00001'], ['V00001']]);
  expect(written[3].volsers).toEqual(['V00001', 'V00002']);

  await new Promise((r) => setTimeout(r, Math.max(0, soon - Date.now() + 50)));
  const expired = await dsf('expire', '--json');
  expect(expired.code).toBe(0);
  expect(expired.json().expired.map((f: { clientFile: string }) => f.clientFile).sort()).toEqual(['gone-0', 'gone-1']);
  await until('the expiries', () => (events.messages.filter((e) => e.type === 'ClientFileExpired').length === 2 ? true : undefined));

  // a dry run names the candidate and changes nothing
  const dry = await dsf('volumes', 'reclaim', '--threshold', '60', '--dry-run', '--json');
  expect(dry.code).toBe(0);
  const assessed = dry.json().streams[0];
  expect(assessed).toMatchObject({ type: 'VolumesReclaimed', dryRun: true, ok: true, runsMoved: 0, volumes: [{ volser: 'V00001', outcome: 'candidate' }], skipped: [{ volser: 'V00002', reason: 'mounted for appending' }] });
  const liveRuns = assessed.volumes[0].runs as number;
  expect(liveRuns).toBeGreaterThan(3);
  expect(events.messages.some((e) => e.type === 'RunMoved')).toBe(false);

  // the reclamation, killed -9 after its first RunMoved; the restarted multiplexer gets the command again and finishes it
  const reclaiming = dsf('volumes', 'reclaim', '--threshold', '60', '--json');
  await events.waitFor((e) => e.type === 'RunMoved', 60_000, 'a first RunMoved');
  child!.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  const movedBeforeKill = events.messages.filter((e) => e.type === 'RunMoved').length;
  output += '\n--- killed ---\n';
  child = await startMultiplexer();
  const done = await reclaiming;
  expect(done.code).toBe(0);
  await until('V00001 scratched', () => (events.messages.some((e) => e.type === 'VolumeScratched' && e.volser === 'V00001') ? true : undefined));
  const moved = events.messages.filter((e): e is MessageOfType<'RunMoved'> => e.type === 'RunMoved');
  // each live run of V00001 moved exactly once, onto V00002, never an expired file's
  expect(moved).toHaveLength(liveRuns);
  expect(new Set(moved.map((m) => `${m.fromVolser}@${m.fromPosition}`)).size).toBe(liveRuns);
  expect(new Set(moved.map((m) => m.incarnation))).toEqual(new Set([inc.get('keep-0'), inc.get('keep-1')]));
  expect(moved.every((m) => m.fromVolser === 'V00001' && m.volser !== 'V00001')).toBe(true);
  expect(fs.existsSync(path.join(tapes, 'V00001.vol'))).toBe(false);
  process.stdout.write(`reclaim e2e: ${movedBeforeKill} of ${liveRuns} RunMoved published before the kill -9\n`);

  // the catalog followed: live files on the new volume only, V00001 scratch, the expired files gone
  await catalogFollowed();
  const listed = await dsf('client-files', 'list', '--stream', 'RECL', '--json');
  const rows = listed.json().clientfiles as Array<{ clientFile: string; state: string; volsers: string[] }>;
  expect(rows.map((r) => r.clientFile).sort()).toEqual(['keep-0', 'keep-1']);
  for (const r of rows) expect(r.volsers).not.toContain('V00001');
  const vols = (await dsf('volumes', 'list', '--json')).json().volumes as Array<{ volser: string; state: string; clientFiles: Array<{ clientFile: string }> }>;
  expect(vols.find((v) => v.volser === 'V00001')).toMatchObject({ state: 'scratch', clientFiles: [] });
  expect(vols.find((v) => v.volser === 'V00002')?.clientFiles.map((f) => f.clientFile).sort()).toEqual(['keep-0', 'keep-1']);

  // restores: the live files byte-identical from their new places; the expired ones are not there to read
  const reader = new ClientFileReader({ catalogUrl: catalog.httpUrl, volumeDir: tapes, waitMs: 30_000 });
  for (const name of ['keep-0', 'keep-1']) {
    const p = await reader.placements({ incarnation: inc.get(name)! });
    const seqs = p.runs.flatMap((r) => Array.from({ length: r.superblocks }, (_, k) => r.firstSeq + k));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k)); // each superblock once
    expect(sha256(await reader.readAll({ incarnation: inc.get(name)! }))).toBe(sha256(files.find((f) => f.name === name)!.data));
  }
  const noWait = new ClientFileReader({ catalogUrl: catalog.httpUrl, volumeDir: tapes, waitMs: 0 });
  await expect(noWait.readAll({ incarnation: inc.get('gone-0')! })).rejects.toThrow();

  // a scan of the volumes left finds the same catalog (no expired file resurrected, nothing twice); replay equals live
  const live = await get<{ volumeDigest: string }>('/state-digest');
  const scan = await post<{ digest: string; scanDigest: string; clientFiles: Array<{ clientFile: string; status: string }> }>('/sovadm/scan', { schema: 'reclaim_scan' });
  expect(scan.clientFiles.map((f) => `${f.clientFile}:${f.status}`).sort()).toEqual(['keep-0:complete', 'keep-1:complete']);
  expect(scan.scanDigest).toBe(scan.digest);
  expect(scan.digest).toBe(live.volumeDigest);
  const verify = await get<{ ok: boolean; difference: unknown; live: { digest: string }; replay: { digest: string } }>('/verify');
  expect({ difference: verify.difference, replay: verify.replay.digest }).toEqual({ difference: null, replay: verify.live.digest });

  // sent again: nothing left to reclaim, nothing moved twice
  const again = await dsf('volumes', 'reclaim', '--threshold', '60', '--stream', 'RECL', '--json');
  expect(again.code).toBe(0);
  expect(again.json().streams[0]).toMatchObject({ volumes: [], runsMoved: 0 });
  expect(events.messages.filter((e) => e.type === 'RunMoved')).toHaveLength(liveRuns);

  // the scratched volser is labelled again when the stream needs a volume: it holds only what is written now, and a scan of it brings nothing expired back
  const [after] = await write([{ name: 'after-0', data: content('after-0', 1.5 * MiB), expiresAt: later }]);
  expect(after.volsers).toEqual(['V00002', 'V00001']);
  const relabelled = await until('V00001 in use again', async () => {
    const v = (await get<Array<{ volser: string; state: string; clientFiles: Array<{ clientFile: string }> }>>('/volumes')).find((x) => x.volser === 'V00001');
    return v?.state === 'mounted' && v.clientFiles.length > 0 ? v : undefined;
  });
  expect(relabelled.clientFiles.map((f) => f.clientFile)).toEqual(['after-0']);
  const rescan = await post<{ clientFiles: Array<{ clientFile: string; status: string }> }>('/sovadm/scan', { schema: 'reclaim_scan2' });
  expect(rescan.clientFiles.map((f) => `${f.clientFile}:${f.status}`).sort()).toEqual(['after-0:complete', 'keep-0:complete', 'keep-1:complete']);
  expect(sha256(await reader.readAll({ incarnation: after.incarnation }))).toBe(sha256(content('after-0', 1.5 * MiB)));
});
