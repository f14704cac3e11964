/**
 * Runs one `dsf` command line and returns its exit code: 0 done, 1 refused or failed (the reason
 * is printed), 2 bad arguments (nothing sent), 3 no outcome in time or infrastructure trouble.
 * With --json, stdout holds exactly one JSON object with the outcome and nothing else.
 */
import { httpTokenFromEnv } from '@deltaflow/service-kit';
import { CliUsageError } from './options';
import { catalogUrl, kafkaConnection, type DiscoveryContext } from './endpoints';
import { CommandChannel } from './follow';
import { COMMAND_WORDS, noOutcome, outcomeOf, progressOf, sent, trouble, usage, type Outcome } from './outcome';
import { parseCommandLine } from './program';
import type { QueryPlan, SendPlan } from './plan';
import { progressSink, type TerminalStream } from './progress';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  /** one line of stdout */
  readonly out: (line: string) => void;
  /** one line of stderr */
  readonly err: (line: string) => void;
  /** stdout when it is a terminal: progress bars are drawn on it (without --json) */
  readonly terminal?: TerminalStream;
  /** where a relative DELTAFLOW_HOME is resolved (default: the working directory) */
  readonly cwd?: string;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // known before parsing, so that even a usage error is one JSON object
  const json = argv.includes('--json');
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof CliUsageError)) throw e;
    report(usage(e.message), json, io);
    if (e.hint) io.err(e.hint);
    return 2;
  }
  if (parsed.kind === 'help') {
    io.out(parsed.text.trimEnd());
    return 0;
  }
  const plan = parsed.plan;
  const discovery: DiscoveryContext = { env: io.env, ...(io.cwd ? { cwd: io.cwd } : {}), note: io.err };
  let outcome: Outcome;
  try {
    if (plan.kind === 'query') outcome = await query(plan, discovery);
    else if (plan.kind === 'run') outcome = await plan.run({ discovery, env: io.env, ...(io.cwd ? { cwd: io.cwd } : {}), err: io.err });
    else outcome = await send(plan, discovery, io);
  } catch (e) {
    const about = plan.kind === 'send' ? { command: COMMAND_WORDS[plan.message.type], correlationId: plan.message.correlationId } : plan.kind === 'run' ? { command: plan.command } : {};
    outcome = trouble((e as Error).message, about);
  }
  report(outcome, plan.json, io);
  return outcome.exitCode;
}

/** The outcome on stdout (done) or stderr (anything else); with --json, its object on stdout. */
function report(o: Outcome, json: boolean, io: CliIo): void {
  if (json) io.out(JSON.stringify(o.json));
  if (json && o.exitCode === 0) return;
  o.lines.forEach((line, i) => (o.exitCode === 0 ? io.out(line) : io.err(i === 0 ? `dsf: ${line}` : line)));
}

async function query(plan: QueryPlan, discovery: DiscoveryContext): Promise<Outcome> {
  const url = `${catalogUrl(discovery)}${plan.path}`;
  // HTTP_TOKEN (or HTTP_TOKEN_FILE): the catalog's token, sent as a bearer token
  const token = httpTokenFromEnv(discovery.env);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(plan.timeoutSec * 1000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  } catch (e) {
    const err = e as Error & { cause?: Error };
    return trouble(`the catalog at ${url} did not answer: ${err.name === 'TimeoutError' ? `no answer within ${plan.timeoutSec} s` : (err.cause?.message ?? err.message)}`);
  }
  const text = await res.text();
  if (!res.ok) {
    // a catalog from before a query existed answers 404 "Cannot GET /path"
    const older = res.status === 404 && /Cannot GET/.test(text) ? ` (this catalog does not serve ${plan.path.replace(/\?.*/, '')} yet)` : '';
    const error = `the catalog answered ${res.status} to GET ${plan.path}: ${text.slice(0, 500)}${older}`;
    // a refusal of the query (4xx) is the answer; a failing catalog (5xx) is infrastructure trouble
    return res.status < 500 ? { exitCode: 1, lines: [error], json: { ok: false, code: `HTTP_${res.status}`, error } } : trouble(error, { status: res.status });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return trouble(`the catalog answered GET ${plan.path} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  try {
    return plan.render(body);
  } catch (e) {
    return trouble((e as Error).message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(plan: SendPlan, discovery: DiscoveryContext, io: CliIo): Promise<Outcome> {
  const conn = kafkaConnection(discovery);
  const channel = await CommandChannel.open(conn, { follow: plan.follow });
  const progress = progressSink({ json: plan.json, out: io.out, err: io.err, ...(io.terminal ? { terminal: io.terminal } : {}) });
  try {
    const first = plan.message;
    if (!plan.follow) {
      await channel.send(first);
      return sent(first, `${first.type} sent (${first.correlationId}); the DSIM builder prints the blocks to its log`);
    }
    const deadline = Date.now() + plan.timeoutSec * 1000;
    for (let attempt = 1; ; attempt++) {
      // DSIMWAIT: each attempt is a command of its own, ID, ID.2, ID.3...
      const message = attempt === 1 ? first : { ...first, correlationId: `${first.correlationId}.${attempt}` };
      if (attempt === 1) progress.line(`${message.type} sent (${message.correlationId}); waiting for the outcome...`);
      const event = await channel.request(message, {
        isFinal: (e) => outcomeOf(e, message.type) !== undefined,
        onEvent: (e) => {
          const p = progressOf(e);
          if (p) progress.show(p);
        },
        deadline,
      });
      if (!event) return noOutcome(first, plan.timeoutSec);
      const notComplete = event.type === 'CommandRejected' && event.code === 'DSIM_NOT_COMPLETE';
      if (plan.retryWhileNotComplete && notComplete && Date.now() + 500 < deadline) {
        if (attempt === 1) progress.line('the DSIM is not complete yet: waiting for its save to reach the end sync...');
        await sleep(500);
        continue;
      }
      return outcomeOf(event, message.type) as Outcome;
    }
  } finally {
    progress.stop();
    await channel.close();
  }
}
