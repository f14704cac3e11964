/**
 * Deltaflow services as real OS processes for tests: started as `npm start` starts them
 * (@deltaflow/processes), each with its own environment, killed with SIGKILL when a test says
 * "killed" (never an in-process stop), restarted on the same configuration. Their output is kept
 * (the last lines, printed when a test fails) instead of flooding the test log.
 */
import { startChild, stopChild, type Child } from '@deltaflow/processes';

export interface ServiceProcessOptions {
  /** folder under apps/ (default: the instance name) */
  readonly app?: string;
  readonly env?: Record<string, string>;
  /** how long to wait for the ready message (default 90 s) */
  readonly readyTimeoutMs?: number;
}

interface Entry {
  child: Child;
  readonly options: ServiceProcessOptions;
}

export class ServiceProcesses {
  private readonly running = new Map<string, Entry>();
  private readonly lines: string[] = [];

  /** `base`: what every service gets (KAFKA_BROKERS, DATABASE_URL, DELTAFLOW_DATA_DIR, ...) */
  constructor(private readonly base: Record<string, string>) {}

  /** Starts one instance and waits until it says it is ready. */
  async start(instance: string, options: ServiceProcessOptions = {}): Promise<Child> {
    if (this.running.has(instance)) throw new Error(`${instance} is already running`);
    const app = options.app ?? instance;
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', DELTAFLOW_LOG_LEVEL: 'log', ...this.base, ...options.env };
    const child = startChild(instance, `apps/${app}/src/main.ts`, [], env, undefined, (line) => this.keep(line));
    this.running.set(instance, { child, options });
    const ms = options.readyTimeoutMs ?? 90_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([child.ready, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${instance} not ready within ${ms} ms`)), ms)))]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.tail(40)}`);
    } finally {
      clearTimeout(timer);
    }
    return child;
  }

  /** SIGKILL: the process dies at once, as on a crash; resolves when it is gone. */
  async kill9(instance: string): Promise<void> {
    const e = this.running.get(instance);
    if (!e) throw new Error(`${instance} is not running`);
    this.running.delete(instance);
    e.child.proc.kill('SIGKILL');
    await e.child.exited;
  }

  /** Starts a killed or stopped instance again with its configuration. */
  async restart(instance: string, options?: ServiceProcessOptions): Promise<Child> {
    const e = this.running.get(instance);
    if (e) await this.stop(instance);
    return this.start(instance, options ?? e?.options ?? {});
  }

  pid(instance: string): number {
    const pid = this.running.get(instance)?.child.proc.pid;
    if (pid === undefined) throw new Error(`${instance} is not running`);
    return pid;
  }

  async stop(instance: string): Promise<void> {
    const e = this.running.get(instance);
    if (!e) return;
    this.running.delete(instance);
    await stopChild(e.child);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((i) => this.stop(i)));
  }

  /** The lines kept (the last 4000-5000) that match `pattern`. */
  grep(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /** The last `n` lines the services printed. */
  tail(n = 80): string {
    return this.lines.slice(-n).join('\n');
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 5000) this.lines.splice(0, 1000);
  }
}
