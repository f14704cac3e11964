/**
 * `npm start` as a user runs it: the launcher in its own process group (a terminal), the
 * embedded broker and PostgreSQL, every service, the main job (the seed's four-step example
 * through `dsf`: online full and delta saves of the sample database, DSIMs unloaded, merges into
 * a consolidated delta and a new full save, that one restored and its digest compared with the
 * nucleus's). Then Ctrl-C (SIGINT to the whole group): exit code 0 and no process left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '@deltaflow/processes';
import { httpPortVariable, SERVICES } from './services';

jest.setTimeout(300_000);

/** Every live descendant of `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp !== p) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

let launcher: ChildProcess | undefined;
afterAll(() => {
  if (!launcher?.pid || launcher.exitCode !== null || launcher.signalCode !== null) return;
  try {
    process.kill(-launcher.pid, 'SIGKILL'); // a failed test: leave nothing behind
  } catch {
    // already gone
  }
});

const ANY_PORT = Object.fromEntries(SERVICES.map((s) => [httpPortVariable(s.name), '0']));

function startLauncher(extraEnv: Record<string, string> = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-start-'));
  fs.chmodSync(home, 0o755); // PostgreSQL runs as another OS user when we are root
  const proc = spawn(process.execPath, [path.join(ROOT, 'infra/launcher/bin/start.js')], {
    cwd: ROOT,
    // every port free-chosen: another system (a developer's npm start, a parallel test) may hold the defaults
    env: { ...process.env, ...ANY_PORT, DELTAFLOW_HOME: home, DELTAFLOW_KAFKA_PORT: '0', KAFKA_BROKERS: '', DATABASE_URL: '', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, as in a terminal
  });
  const out = { text: '' };
  proc.stdout!.on('data', (c: Buffer) => (out.text += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out.text += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const until = async (re: RegExp, ms: number) => {
    const end = Date.now() + ms;
    while (!re.test(out.text)) {
      if (proc.exitCode !== null) throw new Error(`launcher exited (${proc.exitCode}) before ${re}:\n${out.text.slice(-4000)}`);
      if (Date.now() > end) throw new Error(`no ${re} within ${ms} ms:\n${out.text.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { proc, out, exited, until };
}

describe('npm start', () => {
  it('comes up, runs the main job to a verified restore, and stops everything on Ctrl-C', async () => {
    const l = startLauncher();
    launcher = l.proc;
    await l.until(/Deltaflow is up:/, 180_000); // ten services, most started together, each compiling its sources
    const output = () => l.out.text;
    for (const name of ['kafka', 'postgresql', 'nucleus-sim', 'change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'stream-multiplexer', 'catalog', 'console']) {
      expect(output()).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
    // every service's HTTP listener in the table: /health answers 200, /metrics Prometheus text
    for (const name of ['nucleus-sim', 'change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'stream-multiplexer', 'catalog', 'console']) {
      const url = new RegExp(`^  ${name} +(http://127\\.0\\.0\\.1:\\d+) +\\(pid \\d+\\)`, 'm').exec(output())?.[1];
      expect({ name, url }).toEqual({ name, url: expect.stringMatching(/^http:/) });
      const health = await fetch(`${url}/health`);
      expect({ name, status: health.status }).toEqual({ name, status: 200 });
      if (name === 'stream-multiplexer') expect(await (await fetch(`${url}/status`)).json()).toMatchObject({ streams: expect.any(Array) });
      if (name === 'console') {
        expect(output()).toContain(`Open the console: ${url}/`);
        expect(await (await fetch(`${url}/`)).text()).toMatch(/<script src="\/assets\/console\.js\?v=\w+"><\/script>/);
        // it reads the /metrics of every service the launcher started before it
        const services = ((await (await fetch(`${url}/api/health`)).json()) as { services: Array<{ service: string; up: boolean }> }).services;
        expect(services.map((x) => [x.service, x.up])).toEqual(['catalog', 'change-logger', 'dsim-builder', 'merge-engine', 'nucleus-sim', 'save-writer', 'scheduler', 'stream-multiplexer'].map((n) => [n, true]));
      }
      if (name !== 'change-logger') continue;
      const lag = /^deltaflow_kafka_consumer_lag\{group="deltaflow\.change-logger",topic="dsf\.block-changes",partition="0"\} \d+$/m;
      for (let i = 0; i < 40 && !lag.test(await (await fetch(`${url}/metrics`)).text()); i++) await new Promise((r) => setTimeout(r, 500));
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(lag);
    }
    expect(output()).toMatch(/each service: <url>\/health \(\/health\/live, \/health\/ready\), <url>\/metrics/);
    await l.until(/\[main job\] done|main job: FAILED/, 180_000);
    expect(output()).not.toMatch(/main job: FAILED/);
    expect(output()).toMatch(/saved \S+-full: DSID \d+\/0\//);
    expect(output()).toMatch(/saved \S+-d1: DSID \d+\/1\//);
    expect(output()).toMatch(/step 4: new full save \S+: DSID \d+\/0-3\//);
    expect(output()).toMatch(/equals the nucleus's at the last save's end sync: VERIFIED/);
    expect(output()).toMatch(/\+ stream:S1\/\S+ \+ its DSIM into restores\/\S+: digest equals the nucleus's at the streamed save's end sync: VERIFIED/);
    expect(output()).toMatch(/^\[main job\] +\d+\/1-2\/\S+ +merge +delta +offline +completed /m);

    // supervision: a service killed with kill -9 is started again, and serves again
    const saveWriter = Number(/^  save-writer +\S+ +\(pid (\d+)\)/m.exec(output())![1]);
    process.kill(saveWriter, 'SIGKILL');
    await l.until(/deltaflow: save-writer exited unexpectedly \(code null\); restarting in 1000 ms/, 30_000);
    await l.until(/deltaflow: save-writer restarted \(pid \d+\)/, 120_000);

    const procs = descendants(l.proc.pid!);
    expect(procs.length).toBeGreaterThanOrEqual(10); // broker, postgres, eight services
    process.kill(-l.proc.pid!, 'SIGINT'); // Ctrl-C: the whole foreground group
    expect(await l.exited).toBe(0);
    expect(output()).toMatch(/deltaflow: stopped/);
    await new Promise((r) => setTimeout(r, 500));
    expect(procs.filter(alive)).toEqual([]);
  });

  it('leaves nothing running when the launcher itself is killed (kill -9)', async () => {
    const l = startLauncher({ DELTAFLOW_MAIN_JOB: '0' });
    launcher = l.proc;
    await l.until(/Press Ctrl-C to stop/, 120_000);
    const procs = descendants(l.proc.pid!);
    expect(procs.length).toBeGreaterThanOrEqual(10); // broker, postgres (+ its workers), seven services, the watchdog
    process.kill(l.proc.pid!, 'SIGKILL'); // the launcher only: its children learn it from their IPC channel / the watchdog
    await l.exited;
    const end = Date.now() + 30_000;
    while (procs.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
    expect(procs.filter(alive)).toEqual([]);
  });
});
