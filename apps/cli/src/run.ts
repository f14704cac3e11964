/**
 * Runs one `dsf` command: publishes it on dsf.commands with a fresh correlation id, follows
 * dsf.events for that id (progress on the way), and returns the exit code:
 * 0 done, 1 refused or failed (the reason is printed), 2 bad arguments, 3 no outcome in time
 * or infrastructure trouble.
 */
import { randomUUID } from 'node:crypto';
import { encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { formatDsid } from '@deltaflow/dsid';
import { brokersFromEnv, createKafka, kafkaSecurityFromEnv, TopicReader } from '@deltaflow/service-kit';
import { CliCommand, CliUsageError, parseArgs, USAGE } from './args';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

type Outcome = { code: number; lines: string[] };
type DsfEvent = TopicMessage<'dsf.events'>;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let cmd: CliCommand;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (e instanceof CliUsageError) {
      io.err(`dsf: ${e.message}`);
      io.err(USAGE);
      return 2;
    }
    throw e;
  }
  try {
    switch (cmd.kind) {
      case 'help':
        io.out(USAGE);
        return 0;
      case 'saves-list':
        return await listSaves(cmd.dbid, io);
      case 'dsim-unload':
        return await unloadWaiting(cmd, io);
      default:
        return await sendAndWait(cmd, io);
    }
  } catch (e) {
    io.err(`dsf: ${(e as Error).message}`);
    return 3;
  }
}

async function listSaves(dbid: number, io: CliIo): Promise<number> {
  const base = io.env.CATALOG_URL;
  if (!base) throw new Error('CATALOG_URL is not set (the catalog query API, e.g. http://127.0.0.1:8080)');
  const res = await fetch(`${base.replace(/\/$/, '')}/saves?dbid=${dbid}`);
  if (!res.ok) {
    io.err(`dsf: catalog answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return 1;
  }
  const saves = (await res.json()) as Array<Record<string, unknown>>;
  if (!Array.isArray(saves)) throw new Error('catalog answered something that is not a list of saves');
  io.out(['DSID', 'KIND', 'ONLINE', 'STATUS', 'BLOCKS', 'PATH / REASON'].join('\t'));
  for (const s of saves)
    io.out([s.dsid, s.kind, s.online ? 'online' : 'offline', s.status, s.blocks ?? '', s.path ?? s.reason ?? ''].map(String).join('\t'));
  if (saves.length === 0) io.out(`(no saves of database ${dbid})`);
  return 0;
}

function commandOf(cmd: Exclude<CliCommand, { kind: 'help' | 'saves-list' }>, correlationId: string): AnyMessage {
  switch (cmd.kind) {
    case 'save':
      return { type: 'SaveRequested', correlationId, dbid: cmd.dbid, kind: cmd.mode, online: cmd.online, destination: { kind: 'directory', name: cmd.dest } };
    case 'dsim-unload':
      return { type: 'DsimUnloadRequested', correlationId, dbid: cmd.dbid, destination: { kind: 'directory', name: cmd.dest } };
    case 'dsim-reset':
      return { type: 'DsimResetRequested', correlationId, dbid: cmd.dbid };
    case 'dsim-print':
      return { type: 'DsimPrintRequested', correlationId, dbid: cmd.dbid, ...(cmd.blocks ? { blocks: cmd.blocks } : {}) };
    default: {
      const never: never = cmd;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** What an event means for the command with this correlation id: progress lines, or the final outcome. */
export function interpret(e: DsfEvent): { progress?: string; outcome?: Outcome } {
  switch (e.type) {
    case 'SaveStarted':
      return { progress: `save started: DSID ${formatDsid(e.dsid)}${e.startLsn !== undefined ? ` at sync LSN ${e.startLsn}` : ''}` };
    case 'SaveProgress':
      return { progress: `  ${e.blocksWritten}${e.blocksTotal !== undefined ? `/${e.blocksTotal}` : ''} blocks written` };
    case 'SaveCompleted':
      return {
        outcome: {
          code: 0,
          lines: [
            `save completed: DSID ${formatDsid(e.dsid)}, ${e.blocks} blocks, ${e.bytes} bytes in ${e.location.kind === 'directory' ? e.location.name : `${e.location.stream}/${e.location.clientFile}`}${e.endLsn !== undefined ? `, end sync LSN ${e.endLsn}` : ''}`,
          ],
        },
      };
    case 'SaveFailed':
      return { outcome: { code: 1, lines: [`save failed: ${e.code}: ${e.reason}`] } };
    case 'DsimUnloaded':
      return { outcome: { code: 0, lines: [`DSIM of ${formatDsid(e.dsid)} unloaded: ${e.blocks} blocks in ${e.location.kind === 'directory' ? e.location.name : e.location.stream}`] } };
    case 'DsimReset':
      return { outcome: { code: 0, lines: [`DSIM reset${e.dsid ? ` (was ${formatDsid(e.dsid)})` : ' (it was free)'}`] } };
    case 'CommandRejected':
      return { outcome: { code: 1, lines: [`${e.commandType} rejected: ${e.code}: ${e.reason}${e.field ? ` (${e.field})` : ''}`] } };
    default:
      return {};
  }
}

/**
 * `dsf dsim unload --wait`: the seed's DSIMWAIT. While the DSIM's save has not reached its end
 * sync the DSIM builder answers DSIM_NOT_COMPLETE; with --wait the unload is asked again (each
 * attempt a new correlation id: ID, ID.2, ID.3...) until it completes or the timeout ends.
 */
async function unloadWaiting(cmd: Extract<CliCommand, { kind: 'dsim-unload' }>, io: CliIo): Promise<number> {
  const base = cmd.id ?? `cli-${randomUUID()}`;
  const deadline = Date.now() + cmd.timeoutSec * 1000;
  for (let attempt = 1; ; attempt++) {
    const id = attempt === 1 ? base : `${base}.${attempt}`;
    const timeoutSec = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const errors: string[] = [];
    const code = await sendAndWait({ ...cmd, id, timeoutSec }, cmd.wait ? { ...io, err: (l) => errors.push(l) } : io);
    const notComplete = errors.some((l) => l.includes('DSIM_NOT_COMPLETE'));
    if (!cmd.wait || !notComplete || Date.now() >= deadline) {
      for (const l of errors) io.err(l);
      return code;
    }
    if (attempt === 1) io.out('the DSIM is not complete yet: waiting for its save to reach the end sync...');
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function sendAndWait(cmd: Exclude<CliCommand, { kind: 'help' | 'saves-list' }>, io: CliIo): Promise<number> {
  const brokers = brokersFromEnv(io.env);
  const security = kafkaSecurityFromEnv(io.env);
  const correlationId = ('id' in cmd && cmd.id) || `cli-${randomUUID()}`;
  const producer = createKafka({ clientId: 'dsf-cli', brokers, security, retries: 3, quiet: true }).producer({ allowAutoTopicCreation: true });
  let reader: TopicReader<DsfEvent> | undefined;
  const send = async () => {
    const r = encodeMessage(commandOf(cmd, correlationId));
    await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
    return r.headers['df-type'];
  };
  try {
    await producer.connect();
    if (cmd.kind === 'dsim-print') {
      await send();
      io.out(`DSIM print requested (${correlationId}); the DSIM builder prints the blocks to its log`);
      return 0;
    }
    // follow dsf.events from its current end, so the outcome cannot be missed
    let finish!: (o: Outcome) => void;
    const outcome = new Promise<Outcome>((r) => (finish = r));
    reader = new TopicReader<DsfEvent>({
      brokers,
      security,
      clientId: 'dsf-cli',
      topics: [Topic.dsfEvents],
      from: 'latest',
      onMessage: (e) => {
        if (!('correlationId' in e) || e.correlationId !== correlationId) return;
        const seen = interpret(e);
        if (seen.progress) io.out(seen.progress);
        if (seen.outcome) finish(seen.outcome);
      },
      onUndecodable: () => undefined,
    });
    await reader.start();
    const type = await send();
    io.out(`${type} sent (${correlationId}); waiting for the outcome...`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((res) => {
      timer = setTimeout(() => res({ code: 3, lines: [`no outcome within ${cmd.timeoutSec} s (is the service running?)`] }), cmd.timeoutSec * 1000);
    });
    const o = await Promise.race([outcome, timeout]);
    clearTimeout(timer);
    for (const line of o.lines) (o.code === 0 ? io.out : io.err)(o.code === 0 ? line : `dsf: ${line}`);
    return o.code;
  } finally {
    await reader?.stop();
    await producer.disconnect().catch(() => undefined);
  }
}
