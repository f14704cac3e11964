/**
 * The operator's console in a real browser against a real system: the embedded broker, the test
 * PostgreSQL, the reference nucleus writing database 1, the services and the console as OS
 * processes, all behind HTTP_TOKEN. Debian's chromium (no browser download) driven by
 * playwright-core signs in through the login form, and the test checks what a user sees after a
 * full save, a delta, a merge, a refused merge and a restore: every DSID on the timeline, the
 * merge and the restore, the rejection with its rule; then a new save appears without a reload;
 * then the "as of" control; then a save written to a stream on its volume's strip, and a bad
 * record on dsf.events dead-lettered with its reason on the Health part. Screenshots:
 * test-artifacts/console/ (gitignored).
 * Skipped, saying so, where no chromium is installed (.ci/run installs Debian's `chromium`).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { formatDsid } from '@deltaflow/dsid';
import { ALL_TOPICS, dlqTopic, type MessageOfType } from '@deltaflow/contracts';
import { createKafka } from '@deltaflow/service-kit';
import type { BrowserContext, Page } from 'playwright-core';
import { startDeltaSaveSystem, type DeltaSaveSystem } from './support/delta-save-system';

jest.setTimeout(180_000);

const DBID = 1;
const STREAM = 'S1';
const TOKEN = 'console-e2e-token-0123456789abcdef';
const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts', 'console');
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
if (!CHROMIUM) console.warn('console e2e: SKIPPED — no chromium found (/usr/bin/chromium, /usr/bin/chromium-browser or CHROMIUM_PATH); install Debian\'s `chromium` (.ci/run does)');
const suite = CHROMIUM ? describe : describe.skip;

let sys: DeltaSaveSystem;
let browser: BrowserContext;
let page: Page;
let consoleUrl: string;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const db = () => page.getByTestId(`db-${DBID}`);
const entry = (dsid: string) => db().getByTestId('entry').filter({ has: page.getByTestId('dsid').getByText(dsid, { exact: true }) });

suite('the console in chromium', () => {
  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    // every service on a port chosen here, so the console knows where each one's /metrics is
    const names = ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'catalog'];
    const ports = await Promise.all(names.map(() => freePort()));
    const urls = names.map((n, i) => [n, `http://127.0.0.1:${ports[i]}`] as const);
    const portVars = Object.fromEntries(names.map((n, i) => [`${n.toUpperCase().replace(/-/g, '_')}_HTTP_PORT`, String(ports[i])]));
    sys = await startDeltaSaveSystem({ name: 'console-e2e', dbid: DBID, dbMib: 16, services: [...names, 'stream-multiplexer'], env: { HTTP_TOKEN: TOKEN, ...portVars } });
    // a stream for the volume strips (defined now: its device is added while the other tests run)
    await sys.pub.publish({ type: 'StreamDefine', stream: STREAM });
    // the dead-letter topics exist before the console tails them, as `npm start` creates them (infra/topics)
    const admin = createKafka({ clientId: 'console-e2e-topics', brokers: sys.kafka.brokers }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: ALL_TOPICS.map((t) => ({ topic: dlqTopic(t) })) });
    await admin.disconnect();
    const c = await sys.services.start('console', {
      env: { CONSOLE_HTTP_PORT: '0', CATALOG_URL: urls[4][1], CONSOLE_SERVICES: urls.map(([k, v]) => `${k}=${v}`).join(',') },
    });
    consoleUrl = String((await c.ready).httpUrl);
    const { chromium } = await import('playwright-core');
    // a fresh profile (--user-data-dir) of its own
    browser = await chromium.launchPersistentContext(path.join(sys.root, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await sys?.stop();
  });

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.log(sys.services.tail(120));
  });

  it('asks for the token, then shows the saves, the merge, the restore and a refused merge as a user sees them', async () => {
    // the API refuses a request without the token; the page sends the browser to the login form
    expect((await fetch(`${consoleUrl}/api/state`)).status).toBe(401);
    await page.goto(consoleUrl);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=token]', `${TOKEN}x`);
    await page.click('button[type=submit]');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/not this system's HTTP_TOKEN/);
    await page.fill('input[name=token]', TOKEN);
    await Promise.all([page.waitForURL(`${consoleUrl}/`), page.click('button[type=submit]')]);
    const cookies = await browser.cookies();
    expect(cookies.find((k) => k.name === 'deltaflow_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.some((k) => k.value.includes(TOKEN))).toBe(false);

    const full = (await sys.dsf.save(DBID, 'full', 'full')) as MessageOfType<'SaveCompleted'>;
    expect(full.type).toBe('SaveCompleted');
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'full.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    const d1 = (await sys.dsf.save(DBID, 'delta', 'd1')) as MessageOfType<'SaveCompleted'>;
    expect(d1.type).toBe('SaveCompleted');
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'd1.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    const merged = await sys.dsf.merge(DBID, 'full2', ['full', 'full.dsim', 'd1', 'd1.dsim'], { full: true });
    expect(merged).toMatchObject({ type: 'MergeCompleted', kind: 'full' });
    const refused = await sys.dsf.merge(DBID, 'bad', ['d1']);
    expect(refused).toMatchObject({ type: 'CommandRejected', rule: 'ONLINE_SAVE_NEEDS_DSIM' });
    const restored = await sys.dsf.restore(DBID, 'from-full2', ['full2']);
    expect(restored).toMatchObject({ type: 'RestoreCompleted' });

    const fullDsid = formatDsid(full.dsid);
    const d1Dsid = formatDsid(d1.dsid);
    const mergedDsid = formatDsid((merged as MessageOfType<'MergeCompleted'>).dsid);
    // what the user sees (the page follows the events: no reload here)
    await entry(mergedDsid).filter({ hasText: 'merge → full' }).waitFor({ timeout: 30_000 });
    await db().locator('[data-lane=restore][data-status=completed]').waitFor({ timeout: 30_000 });
    const fullCard = entry(fullDsid).filter({ hasText: 'full save' });
    await expect(fullCard.getAttribute('data-status')).resolves.toBe('completed');
    await expect(fullCard.locator('dd').allTextContents()).resolves.toEqual(['online', String(full.blocks), expect.stringMatching(/B$/), expect.stringMatching(/s$/), 'completed']);
    await expect(entry(d1Dsid).filter({ hasText: 'delta save' }).getAttribute('data-kind')).resolves.toBe('delta');
    // the order on the timeline: full, delta, merge, restore
    const lanes = await db().getByTestId('entry').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-lane')}:${e.querySelector('[data-testid=dsid]')?.textContent}`));
    expect(lanes).toEqual([`save:${fullDsid}`, `save:${d1Dsid}`, `merge:${mergedDsid}`, `restore:${mergedDsid}`]);
    await expect(db().locator('[data-lane=restore]').textContent()).resolves.toContain('from-full2');
    // the DSIM state and the DLOG
    await expect(db().getByTestId('dsim').textContent()).resolves.toMatch(/unloaded|released|reset|acquired|completed/);
    await expect(db().getByTestId('dlog').textContent()).resolves.toMatch(/blocks changed since the last save: ASSO \d+, DATA \d+/);
    // the data set retention: its rule and why each save stays (none set here: everything is kept)
    const retention = db().getByTestId('retention');
    await expect(retention.textContent()).resolves.toMatch(/Retentioneverything \(no retention set\).*\d+ kept, 0 due to expire, 0 expired/);
    await expect(retention.locator('.kept li').first().textContent()).resolves.toMatch(/^\S+: \S/);
    // health: the refused merge with its rule, the lag per service
    const rejection = page.getByTestId('rejections').locator('tr', { hasText: 'ONLINE_SAVE_NEEDS_DSIM' });
    await rejection.waitFor({ timeout: 15_000 });
    await expect(rejection.textContent()).resolves.toContain('CommandRejected');
    await expect(page.getByTestId('lag-totals').locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.children[0].textContent, r.children[1].textContent]))).resolves.toEqual(
      ['catalog', 'change-logger', 'dsim-builder', 'merge-engine', 'save-writer'].map((n) => [n, 'yes']),
    );
    // the catalog's lag is measured per partition of what it reads
    await page.getByText(/^lag per partition/).click();
    await expect(page.getByTestId('lag').locator('tbody tr', { hasText: 'deltaflow.catalog' }).first().textContent()).resolves.toMatch(/catalog.*(dsf|sov)\./);
    await shot('1-after-save-merge-restore');
  });

  it('shows a new save without a reload', async () => {
    await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
    const before = Number((await page.getByTestId('updates').textContent())!.replace(/\D+/g, ''));
    const d2 = (await sys.dsf.save(DBID, 'delta', 'd2')) as MessageOfType<'SaveCompleted'>;
    expect(d2.type).toBe('SaveCompleted');
    const d2Dsid = formatDsid(d2.dsid);
    await db()
      .locator('[data-testid=entry][data-status=completed]')
      .filter({ has: page.getByTestId('dsid').getByText(d2Dsid, { exact: true }) })
      .waitFor({ timeout: 30_000 });
    await expect(entry(d2Dsid).filter({ hasText: 'delta save' }).locator('dd').allTextContents()).resolves.toEqual(['online', String(d2.blocks), expect.stringMatching(/B$/), expect.stringMatching(/s$/), 'completed']);
    expect(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(Number((await page.getByTestId('updates').textContent())!.replace(/\D+/g, ''))).toBeGreaterThan(before);
    await expect(page.getByTestId('link').textContent()).resolves.toContain('connected');
    await shot('2-live-update');
  });

  it('the "as of" control shows the state at an offset, or says the catalog cannot', async () => {
    await page.fill('input[name=offset]', '0');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page.getByTestId('point').textContent()).resolves.toMatch(/^as of/);
    await page.locator('[data-testid=unavailable], [data-testid=databases]').first().waitFor({ timeout: 30_000 });
    expect(new URL(page.url()).search).toBe('?offset=0');
    if (await page.getByTestId('unavailable').count()) {
      await expect(page.getByTestId('unavailable').textContent()).resolves.toMatch(/^as of: not available from this catalog/);
    } else {
      // a catalog with GET /at: at offset 0 no save of the later ones is shown
      await expect(db().getByTestId('entry').count()).resolves.toBeLessThan(5);
    }
    await shot('3-as-of');
    await page.getByRole('button', { name: 'Back to live' }).click();
    await expect(page.getByTestId('point').textContent()).resolves.toBe('live');
    await db().getByTestId('entry').first().waitFor({ timeout: 15_000 });
    // a bad offset is refused by the page, with the reason
    await page.fill('input[name=offset]', 'ten');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page.getByTestId('as-of').locator('.error').textContent()).resolves.toMatch(/offset: a whole number/);
    expect((await fetch(`${consoleUrl}/api/state?offset=x`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(400);
  });

  it('shows a save written to a stream on its volume strip, and a dead letter with its reason on the Health part', async () => {
    // the stream with its device, as the page shows it
    await page.getByTestId('volumes').locator('.stream', { hasText: STREAM }).filter({ hasText: /active/ }).waitFor({ timeout: 30_000 });
    // the last save's DSIM first (an online save needs the original DSIM free)
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'd2.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    const saved = await sys.dsf.send({ type: 'SaveRequested', correlationId: 'console-cf', dbid: DBID, kind: 'delta', online: true, destination: { kind: 'stream', stream: STREAM, name: 'console-cf' } });
    expect(saved).toMatchObject({ type: 'SaveCompleted', location: { kind: 'stream', stream: STREAM, clientFile: 'console-cf' } });
    // the volume's strip: the client file's runs drawn where they lie, named in the legend (no reload)
    const strip = page.getByTestId('volume').filter({ has: page.locator('.run[title^="console-cf: superblocks 0–"]') });
    await strip.first().waitFor({ timeout: 30_000 });
    await expect(strip.first().locator('.legend').textContent()).resolves.toContain('console-cf');
    await expect(strip.first().locator('.volume-head').textContent()).resolves.toMatch(new RegExp(`${STREAM} on \\S+, mounted; fill \\d+\\.\\d %`));
    await strip.first().scrollIntoViewIfNeeded();
    await shot('4-volume-strip');

    // a record no consumer can decode: the catalog dead-letters it, with its reason
    const producer = createKafka({ clientId: 'console-e2e-bad', brokers: sys.kafka.brokers }).producer();
    await producer.connect();
    await producer.send({ topic: 'dsf.events', acks: -1, messages: [{ key: String(DBID), value: Buffer.from('not an envelope') }] });
    await producer.disconnect();
    const dead = page.getByTestId('dead-letters').locator('tbody tr', { hasText: 'deltaflow.catalog' });
    await dead.first().waitFor({ timeout: 30_000 });
    const cells = await dead.first().locator('td').allTextContents();
    expect(cells[1]).toBe('dsf.events.dlq');
    expect(cells[2]).toMatch(/^dsf\.events\[\d+\]@\d+$/);
    expect(cells[5]).toMatch(/magic|envelope/i);
    await page.getByTestId('dead-letters').scrollIntoViewIfNeeded();
    await shot('5-dead-letter');
  });
});
