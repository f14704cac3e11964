/*
 * Streaming backup end to end, on the embedded broker and PostgreSQL: client file writers (the
 * producer side of the save writer, merge engine and DSIM builder) → stream multiplexer → volumes;
 * the catalog folds sov.events; readers read client files back by the catalog's placements.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType, TopicMessage } from '@deltaflow/contracts';
import { ClientFileReader, SovClient } from '@deltaflow/service-kit';
import { FileDevice, HEADER_LENGTH, scanStreamFile } from '@deltaflow/tape';
import { pollUntil, tempDir, testDatabase, testKafka, TopicCollector, type TestDatabase, type TestKafka } from '@deltaflow/testing';
import { startCatalog, type RunningCatalog } from '../../apps/catalog/src/app';
import { openCatalogDatabase } from '../../apps/catalog/src/read-models';
import { volumeFacts } from '../../apps/catalog/src/sov-client-files/client-files.projection';
import { multiplexerDefaults, startStreamMultiplexer, type RunningStreamMultiplexer } from '../../apps/stream-multiplexer/src/app';
import { content, FailingDevice, sha256 } from '../../apps/stream-multiplexer/src/testing/harness';

jest.setTimeout(300_000);

let kafka: TestKafka;
let db: TestDatabase;
let dir: string;
let tapes: string;
let catalog: RunningCatalog;
let mux: RunningStreamMultiplexer;
let sov: SovClient;
let events: TopicCollector<TopicMessage<'sov.events'>>;
let reader: ClientFileReader;
const devices = new Map<string, FailingDevice>();

const get = async <T>(p: string): Promise<T> => (await (await fetch(`${catalog.httpUrl}${p}`)).json()) as T;
const post = async <T>(p: string, body: unknown): Promise<T> => {
  const res = await fetch(`${catalog.httpUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const runsOf = (inc: string) => events.messages.filter((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && e.incarnation === inc);
const until = <T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 120_000): Promise<T> => pollUntil(what, fn, { ms, everyMs: 200 });
/** The catalog has folded every sov event published so far. */
const catalogCaughtUp = () =>
  until('the catalog to fold sov.events', async () => {
    const d = await get<{ position: Record<string, Array<{ topic: string; nextOffset: string }>> }>('/state-digest');
    const at = Number(d.position['catalog.sov-client-files']?.find((c) => c.topic === 'sov.events')?.nextOffset ?? 0);
    return at >= events.messages.length ? true : undefined;
  });
/** Writes the files concurrently, in pieces of `piece` bytes, round robin. */
async function writeAll(files: Array<{ name: string; data: Buffer }>, piece = 96 << 10, opts: { dbid?: number; kind?: 'full' | 'delta' } = {}) {
  const writers = await Promise.all(files.map((f) => sov.openClientFile({ stream: 'E2E', clientFile: f.name, dbid: opts.dbid ?? 7, kind: opts.kind ?? 'full' })));
  for (let off = 0; files.some((f) => off < f.data.length); off += piece)
    await Promise.all(writers.map((w, i) => (off < files[i].data.length ? w.write(files[i].data.subarray(off, off + piece)) : Promise.resolve())));
  return Promise.all(writers.map((w) => w.finish()));
}

beforeAll(async () => {
  kafka = await testKafka();
  db = await testDatabase();
  dir = tempDir('e2e-streaming');
  tapes = path.join(dir, 'tapes');
  events = await new TopicCollector<TopicMessage<'sov.events'>>(kafka.brokers, 'sov.events').start();
  mux = await startStreamMultiplexer(
    multiplexerDefaults({
      brokers: kafka.brokers,
      volumeDir: tapes,
      streamDefaults: { minDevices: 1, maxDevices: 1, volumeCapacity: 8 << 20, runSuperblocks: 4, checkpointEveryBytes: 1 << 20, compression: 'none', encryption: 'none' },
      runLatencyMs: 100,
      syncMs: 20,
      deviceTimeoutMs: 5000,
      deviceFactory: (spec) => {
        const d = new FailingDevice(new FileDevice({ name: `${spec.stream}/${spec.device}`, dir: spec.dir, capacity: spec.capacity }));
        devices.set(`${spec.stream}/${spec.device}`, d);
        return d;
      },
      log: () => undefined,
    }),
  );
  catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: db.url, httpPort: 0, dataDir: dir, volumeDir: tapes });
  sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'e2e-streaming' });
  reader = new ClientFileReader({ catalogUrl: catalog.httpUrl, volumeDir: tapes, waitMs: 60_000 });
  await sov.command({ type: 'StreamDefine', stream: 'E2E' });
  await events.waitFor((e) => e.type === 'DeviceAdded' && e.stream === 'E2E');
});

afterAll(async () => {
  await sov?.close();
  await mux?.stop();
  await catalog?.stop();
  await events?.stop();
  await db?.drop();
  await kafka?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('streaming backup', () => {
  const written: Array<{ name: string; data: Buffer; incarnation: string }> = [];

  it('eight concurrent writers on one stream and one device: runs interleave on the volumes, every client file reads back byte-identical, one spans volumes', async () => {
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `db7-save-${i}`, data: content(`eight-${i}`, (3 << 20) + i * 7777) }));
    const out = await writeAll(files);
    out.forEach((w, i) => written.push({ name: files[i].name, data: files[i].data, incarnation: w.incarnation }));
    // one device: every run on one volume chain; consecutive runs on it belong to different files
    const runs = events.messages.filter((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && out.some((w) => w.incarnation === e.incarnation));
    let switches = 0;
    for (let i = 1; i < runs.length; i++) if (runs[i].incarnation !== runs[i - 1].incarnation) switches++;
    expect(switches).toBeGreaterThan(runs.length / 2);
    expect(new Set(runs.map((r) => r.volser)).size).toBeGreaterThan(2); // 24 MiB on 8 MiB volumes
    const spanning = out.find((w) => w.volsers.length > 1);
    expect(spanning).toBeDefined();
    for (const f of written) expect(sha256(await reader.readAll({ incarnation: f.incarnation }))).toBe(sha256(f.data));
    // … by name too, and the catalog lists their volsers
    expect(sha256(await reader.readAll({ stream: 'E2E', clientFile: spanning!.clientFile }))).toBe(spanning!.sha256);
    await catalogCaughtUp();
    const listed = await get<Array<{ incarnation: string; volsers: string[]; state: string }>>('/client-files?stream=E2E&dbid=7');
    expect(listed.find((f) => f.incarnation === spanning!.incarnation)).toMatchObject({ state: 'closed', volsers: spanning!.volsers });
  });

  it('reads only the runs of the client file asked for', async () => {
    const f = written[3];
    const p = await reader.placements({ incarnation: f.incarnation });
    const wanted = p.runs.reduce((n, r) => n + r.length, 0);
    const dev = new FileDevice({ dir: tapes, capacity: 1 << 30, readOnly: true });
    let read = 0;
    const plain = dev.read.bind(dev);
    dev.read = async (position: number, extent: number) => {
      const b = await plain(position, extent);
      read += b.reduce((n, x) => n + x.length, 0);
      return b;
    };
    const r2 = new ClientFileReader({ catalogUrl: catalog.httpUrl, device: dev });
    expect(sha256(await r2.readAll({ incarnation: f.incarnation }))).toBe(sha256(f.data));
    // its runs, plus each volume's label (and trailer when the label is read that way): never the other files
    expect(read).toBeLessThan(wanted + p.volsers.length * 64 * 1024);
    await dev.unmount();
  });

  it('a reused name never mixes old and new data', async () => {
    const a = content('reuse-a', (1 << 20) + 5);
    const b = content('reuse-b', (2 << 20) + 9);
    const first = await sov.openClientFile({ stream: 'E2E', clientFile: 'reused' });
    await first.write(a.subarray(0, 600 << 10));
    await first.opened(60_000);
    // the writer crashed and the save runs again under the same name: a new incarnation
    const second = await sov.openClientFile({ stream: 'E2E', clientFile: 'reused' });
    await expect(first.finish()).rejects.toThrow(/aborted|superseded|refused/);
    await second.write(b);
    const w2 = await second.finish();
    const third = await (await sov.openClientFile({ stream: 'E2E', clientFile: 'reused' })).write(a).then(() => undefined);
    void third;
    expect(sha256(await reader.readAll({ incarnation: w2.incarnation }))).toBe(sha256(b));
    expect(sha256(await reader.readAll({ stream: 'E2E', clientFile: 'reused' }))).toBe(sha256(b)); // the newest closed one
    await expect(reader.readAll({ incarnation: first.incarnation })).rejects.toThrow(/aborted/);
  });

  it('an injected device I/O error mid-volume: nothing acknowledged is lost, nothing is placed twice', async () => {
    const files = Array.from({ length: 3 }, (_, i) => ({ name: `io-${i}`, data: content(`io-${i}`, (2 << 20) + i) }));
    const dev = devices.get('E2E/d1')!;
    dev.failAfterBytes = dev.appended + (3 << 20); // mid-volume, while these are written
    const out = await writeAll(files);
    expect(dev.failures).toBe(1);
    const failed = await events.waitFor((e) => e.type === 'DeviceFailed' && e.stream === 'E2E');
    expect(failed).toMatchObject({ device: 'd1', reason: expect.stringMatching(/injected I\/O error/) });
    const suspect = (await events.waitFor((e) => e.type === 'VolumeSuspect' && e.stream === 'E2E')) as MessageOfType<'VolumeSuspect'>;
    for (const [i, w] of out.entries()) {
      const seqs = runsOf(w.incarnation).flatMap((r) => Array.from({ length: r.superblocks }, (_, k) => r.firstSeq + k));
      expect(seqs.sort((x, y) => x - y)).toEqual(Array.from({ length: w.superblocks }, (_, k) => k));
      expect(sha256(await reader.readAll({ incarnation: w.incarnation }))).toBe(sha256(files[i].data));
    }
    await catalogCaughtUp();
    const vols = await get<Array<{ volser: string; state: string; suspect?: { position: number } }>>('/volumes?stream=E2E');
    expect(vols.find((v) => v.volser === suspect.volser)).toMatchObject({ state: 'suspect', suspect: { position: suspect.position } });
    const streams = await get<Array<{ stream: string; devices: Array<{ device: string; status: string }> }>>('/streams');
    expect(streams.find((s) => s.stream === 'E2E')!.devices).toEqual([
      expect.objectContaining({ device: 'd1', status: 'failed' }),
      expect.objectContaining({ device: 'd2', status: 'active' }),
    ]);
  });

  it('drop the catalog, scan the volumes: the same digest; a flipped label byte still recovers every superblock', async () => {
    // everything written so far is closed or aborted; the last volume is still open for appending
    await catalogCaughtUp();
    const live = await get<{ volumeDigest: string }>('/state-digest');
    const scan = await post<{ digest: string; scanDigest: string; damage: unknown[]; clientFiles: Array<{ clientFile: string; status: string }> }>('/sovadm/scan', { schema: 'catalog_scan1' });
    if (scan.scanDigest !== scan.digest) {
      const ds = await openCatalogDatabase(db.url, 'catalog_scan1');
      const sql = await volumeFacts(ds);
      await ds.destroy();
      const t = (await scanStreamFile(new FileDevice({ dir: tapes, capacity: 1 << 30, readOnly: true }))).catalog;
      const j = (x: unknown) => JSON.stringify(x, (_k, v) => (v instanceof Map ? Object.fromEntries([...v].sort()) : v));
      for (const [k, f] of t.files) if (j(f) !== j(sql.files.get(k))) console.log('FILE', k, j(f), '\n SQL', j(sql.files.get(k)));
      for (const [k, v] of t.volumes) if (j(v) !== j(sql.volumes.get(k))) console.log('VOL', k, j(v), '\n SQL', j(sql.volumes.get(k)));
      console.log('sizes', t.files.size, sql.files.size, t.volumes.size, sql.volumes.size);
    }
    expect(scan.scanDigest).toBe(scan.digest);
    expect(scan.digest).toBe(live.volumeDigest);
    expect(scan.clientFiles.filter((f) => f.clientFile?.startsWith('db7-save-')).map((f) => f.status)).toEqual(Array(8).fill('complete'));

    // a byte of the first volume's label flipped
    const first = runsOf(written[0].incarnation)[0].volser;
    const file = path.join(tapes, `${first}.vol`);
    const fd = fs.openSync(file, 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, HEADER_LENGTH + 20);
    b[0] ^= 0x20;
    fs.writeSync(fd, b, 0, 1, HEADER_LENGTH + 20);
    fs.closeSync(fd);
    const again = await post<{ digest: string; damage: Array<{ volser: string; position: number; reason: string }>; volumes: Array<{ volser: string; label: string }> }>('/sovadm/scan', {
      schema: 'catalog_scan2',
    });
    expect(again.damage).toEqual([expect.objectContaining({ volser: first, position: 0, reason: expect.stringMatching(/label/) })]);
    expect(again.volumes.find((v) => v.volser === first)!.label).toBe('trailer');
    expect(again.digest).toBe(live.volumeDigest); // every superblock, open and close record recovered
    for (const f of written.filter((w) => runsOf(w.incarnation).some((r) => r.volser === first)))
      expect(sha256(await reader.readAll({ incarnation: f.incarnation }))).toBe(sha256(f.data));
  });

  it('catalog backup and restore keep the digest; expiry scratches volumes of expired client files only', async () => {
    const b = await post<{ digest: string; file: string }>('/sovadm/backup', { name: 'before-expiry' });
    const r = await post<{ digest: string }>('/sovadm/restore', { name: 'before-expiry', schema: 'catalog_restored' });
    expect(r.digest).toBe(b.digest);
    const x = await post<{ expired: Array<{ clientFile: string }>; kept: unknown[] }>('/sovadm/expire', { asOf: new Date(Date.now() + 1000).toISOString() });
    // nothing carries an expiry here: only the aborted client files go
    expect(x.expired.map((f) => f.clientFile).every((n) => n === 'reused' || n.startsWith('io-') === false)).toBe(true);
    expect(x.expired.length).toBeGreaterThan(0);
    await until('the expiries', () => (events.messages.filter((e) => e.type === 'ClientFileExpired').length >= x.expired.length ? true : undefined));
  });
});
