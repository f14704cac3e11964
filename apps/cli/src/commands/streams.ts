/**
 * Streaming backup administration (seed: SOVADM), from `dsf`:
 *   dsf stream define NAME [--objective BYTES_PER_S] [--devices MIN..MAX] [--volume-capacity BYTES]
 *                          [--compression zstd|gzip|brotli|none] [--encryption aes-256-gcm|none]
 *   dsf stream list | dsf stream device add|remove STREAM DEVICE [--rate BYTES_PER_S]
 *   dsf client-files list [--stream S] [--dbid N] | dsf volumes list (verify: verify.ts, reclaim: reclaim.ts)
 *   dsf expire [--as-of DATE] [--dry-run]
 *   dsf catalog backup --out NAME | dsf catalog restore --from NAME --schema S | dsf catalog scan [--schema S] [--full]
 * Stream and device commands go on sov.commands and wait for the multiplexer's event on
 * sov.events; lists are the catalog's queries; expiry, catalog backup, restore and scan are the
 * catalog's SOVADM calls (POST /sovadm/...), answered when done.
 */
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { COMPRESSIONS, dlqTopic, ENCRYPTIONS, encodeMessage, registry, Topic, type MessageOfType, type TopicMessage, type TopicName } from '@deltaflow/contracts';
import { createKafka, httpTokenFromEnv, TopicReader } from '@deltaflow/service-kit';
import { catalogUrl, kafkaConnection } from '../endpoints';
import { CliUsageError, dbidArg, nameArg, QUERY_TIMEOUT_SEC, streamArg, timeoutArg } from '../options';
import { usage, type Json, type Outcome } from '../outcome';
import type { CommandGroup, Plan, RunContext } from '../plan';
import { table } from './report';
import { registerReclaim } from './reclaim';
import { registerVerify } from './verify';

export const SOV_TIMEOUT_SEC = 60;
type Compression = (typeof COMPRESSIONS)[number];
type Encryption = (typeof ENCRYPTIONS)[number];

const bytesArg = (flag: string) => (v: string) => {
  const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(v.trim());
  const unit = m?.[2] ? { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2][0].toUpperCase() as 'K' | 'M' | 'G'] : 1;
  const n = m ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new CliUsageError(`${flag}: expected a positive size such as 200MiB or 52428800, got "${v}"`);
  return n;
};
const devicesArg = (v: string) => {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(v.trim());
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(min >= 1 && max >= min && max <= 256)) throw new CliUsageError(`--devices: expected MIN..MAX within 1..256 (MIN ≤ MAX), got "${v}"`);
  return { min, max };
};
const deviceArg = (v: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new CliUsageError(`DEVICE: expected a device name of [A-Za-z0-9._-] (1..64), got "${v}"`);
  return v;
};

/** Rows of objects as an aligned table of the given columns. */
function listOutcome(what: string, body: unknown, columns: Array<[string, (r: Json) => unknown]>): Outcome {
  if (!Array.isArray(body)) throw new Error(`the catalog answered something that is not a list of ${what}`);
  const rows = body as Json[];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const lines = rows.length === 0 ? [`no ${what}`] : table(columns.map(([h]) => h), rows.map((r) => columns.map(([, f]) => cell(f(r)))));
  return { exitCode: 0, lines, json: { ok: true, [what.replace(/ /g, '')]: rows } };
}

/** Publishes a sov command and waits for the event that answers it (a line, or the whole outcome). */
export async function sovCommand(
  ctx: RunContext,
  command: TopicMessage<'sov.commands'>,
  done: (e: TopicMessage<'sov.events'>) => string | Outcome | undefined,
  timeoutSec: number,
  words: string,
  /** asked while no event came: a command that changes nothing has no event (a stream defined again alike) */
  unchanged?: () => Promise<string | undefined>,
): Promise<Outcome> {
  try {
    registry.get(command.type)!.validate(command);
  } catch (e) {
    return usage(`${words}: ${(e as Error).message}`);
  }
  const conn = kafkaConnection(ctx.discovery);
  const security = { ...(conn.ssl ? { ssl: conn.ssl } : {}), ...(conn.sasl ? { sasl: conn.sasl } : {}) };
  const r = encodeMessage(command);
  let answer: string | Outcome | undefined;
  let resolve!: () => void;
  const answered = new Promise<void>((res) => (resolve = res));
  // the multiplexer's refusal is the command's dead letter (its original bytes are those sent)
  const reader = new TopicReader<TopicMessage<'sov.events'> | MessageOfType<'DeadLetter'>>({
    brokers: conn.brokers,
    clientId: 'dsf-sov',
    security,
    topics: [Topic.sovEvents, dlqTopic(Topic.sovCommands) as TopicName],
    from: 'latest',
    onMessage: (e) => {
      if (e.type === 'DeadLetter') {
        if (e.originalValue && Buffer.from(e.originalValue).equals(r.value as Buffer)) answer ??= refusedOutcome(words, e.errorCode, e.reason);
      } else answer ??= done(e);
      if (answer !== undefined) resolve();
    },
  });
  await reader.start();
  const producer = createKafka({ clientId: 'dsf-sov', brokers: conn.brokers, security, retries: 3, quiet: true }).producer();
  await producer.connect();
  try {
    await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
    const deadline = Date.now() + timeoutSec * 1000;
    let inTime = false;
    for (let waited = 0; !inTime && Date.now() < deadline; waited++) {
      let timer: NodeJS.Timeout | undefined;
      inTime = await Promise.race([answered.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.min(2000, Math.max(1, deadline - Date.now())))))]);
      clearTimeout(timer);
      if (!inTime && unchanged && waited >= 1) {
        const same = await unchanged().catch(() => undefined);
        if (same !== undefined) return { exitCode: 0, lines: [same], json: { ok: true, command: words, result: same, unchanged: true } };
      }
    }
    if (!inTime) return { exitCode: 3, lines: [`${words}: no answer from the stream multiplexer within ${timeoutSec} s (is it running?)`], json: { ok: false, command: words, code: 'NO_OUTCOME' } };
    if (typeof answer !== 'string') return answer!;
    return { exitCode: 0, lines: [answer!], json: { ok: true, command: words, result: answer } };
  } finally {
    await producer.disconnect().catch(() => undefined);
    await reader.stop().catch(() => undefined);
  }
}

/** The stream multiplexer refused the command (its dead letter's code and reason): nothing was changed. */
function refusedOutcome(words: string, code: string, reason: string): Outcome {
  return { exitCode: 1, lines: [`${words} refused by the stream multiplexer: ${code}: ${reason}`], json: { ok: false, command: words, code, error: reason } };
}

/** POST to the catalog's SOVADM API; its JSON answer, or the reason it refused. */
/** What `dsf expire` did: client files (by their date) and data sets in directories (by their database's retention). */
export function expireSummary(r: Json, dryRun: boolean): string {
  const files = (r.expired as unknown[] | undefined)?.length ?? 0;
  const kept = (r.kept as Array<{ clientFile: string; reason: string }> | undefined) ?? [];
  const dbs = ((r.dataSets as { databases?: Array<{ dbid: number; rule: string; expired: Array<{ correlationId: string; names: string[] }>; kept: number }> } | undefined)?.databases ?? []);
  const lines = [`expire${dryRun ? ' (dry run)' : ''}: ${files} client file(s) ${dryRun ? 'would expire' : 'expired'}${kept.length ? `, ${kept.length} kept (${kept.map((k) => `${k.clientFile}: ${k.reason}`).join('; ')})` : ''}`];
  for (const d of dbs)
    lines.push(
      `  database ${d.dbid}: retention keeps ${d.rule}; ${d.kept} save(s) kept, ${d.expired.length} ${dryRun ? 'would expire' : 'expiring'}${d.expired.length ? `: ${d.expired.map((e) => `${e.correlationId} (${e.names.join(' ') || 'no file'})`).join(', ')}` : ''}`,
    );
  return lines.join('\n');
}

async function sovadm(ctx: RunContext, path: string, body: Json, timeoutSec: number, words: string, summary: (r: Json) => string): Promise<Outcome> {
  const token = httpTokenFromEnv(ctx.env);
  const res = await fetch(`${catalogUrl(ctx.discovery)}${path}`, {
    method: 'POST',
    signal: AbortSignal.timeout(timeoutSec * 1000),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { message: text };
  }
  if (res.status >= 400 && res.status < 500) return { exitCode: 1, lines: [`${words} refused: ${String(json.message ?? text)}`], json: { ok: false, command: words, status: res.status, ...json } };
  if (!res.ok) throw new Error(`catalog: ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { exitCode: 0, lines: [summary(json)], json: { ok: true, command: words, ...json } };
}

/** GET from the catalog's query API (JSON). */
export async function catalogGet<T>(ctx: RunContext, path: string, timeoutSec = QUERY_TIMEOUT_SEC): Promise<T> {
  const token = httpTokenFromEnv(ctx.env);
  const res = await fetch(`${catalogUrl(ctx.discovery)}${path}`, { signal: AbortSignal.timeout(timeoutSec * 1000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  if (!res.ok) throw new Error(`catalog: ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

/** The StreamDefine a `dsf stream define` sends (field names as in the contract). */
export function streamDefineMessage(
  name: string,
  o: { objective?: number; devices?: { min: number; max: number }; volumeCapacity?: number; compression?: Compression; encryption?: Encryption },
): TopicMessage<'sov.commands'> {
  return {
    type: 'StreamDefine',
    stream: name,
    correlationId: `cli-${randomUUID()}`,
    ...(o.objective !== undefined ? { objectiveBytesPerSec: o.objective } : {}),
    ...(o.devices ? { minDevices: o.devices.min, maxDevices: o.devices.max } : {}),
    ...(o.volumeCapacity !== undefined ? { volumeCapacity: o.volumeCapacity } : {}),
    ...(o.compression !== undefined ? { compression: o.compression } : {}),
    ...(o.encryption !== undefined ? { encryption: o.encryption } : {}),
  };
}

export const run = (command: string, json: boolean | undefined, fn: (ctx: RunContext) => Promise<Outcome>): Plan => ({ kind: 'run', command, json: json === true, run: fn });

export const streamsCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const stream = program.command('stream').summary('define streams, list them, add and remove their devices');
    stream
      .command('define')
      .summary('define a stream (a bare name gives a working stream)')
      .argument('<NAME>', 'the stream name', streamArg('NAME'))
      .addOption(new Option('--objective <BYTES_PER_S>', 'the performance objective: devices are added while the backlog exceeds it').argParser(bytesArg('--objective')))
      .addOption(new Option('--devices <MIN..MAX>', 'how many devices the stream uses (default 1..1)').argParser(devicesArg))
      .addOption(new Option('--volume-capacity <BYTES>', 'the capacity of its volumes').argParser(bytesArg('--volume-capacity')))
      .addOption(new Option('--compression <CODEC>', 'how its client files are compressed, per superblock (default: the multiplexer\'s SOV_COMPRESSION)').choices([...COMPRESSIONS]))
      .addOption(new Option('--encryption <CIPHER>', 'how they are encrypted, after compression (aes-256-gcm needs the multiplexer\'s SOV_OPERATOR_KEY_FILE)').choices([...ENCRYPTIONS]))
      .option('--json', 'print one JSON object with the outcome')
      .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${SOV_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((name: string, o: { objective?: number; devices?: { min: number; max: number }; volumeCapacity?: number; compression?: Compression; encryption?: Encryption; json?: boolean; timeout?: number }) => {
        const command = streamDefineMessage(name, o);
        use(
          run('stream define', o.json, (ctx) =>
            sovCommand(
              ctx,
              command,
              (e) =>
                e.type === 'StreamDefined' && e.stream === name
                  ? `stream ${name} defined: ${e.minDevices}..${e.maxDevices} devices, volumes of ${e.volumeCapacity} bytes, runs of ${e.runSuperblocks} superblocks, compression ${e.compression}, encryption ${e.encryption}`
                  : undefined,
              o.timeout ?? SOV_TIMEOUT_SEC,
              'stream define',
              async () => {
                const token = httpTokenFromEnv(ctx.env);
                const res = await fetch(`${catalogUrl(ctx.discovery)}/streams`, { signal: AbortSignal.timeout(5000), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
                const streams = res.ok ? ((await res.json()) as Array<{ stream?: string }>) : [];
                return streams.some((x) => x.stream === name) ? `stream ${name} is defined already with these settings: unchanged` : undefined;
              },
            ),
          ),
        );
      });
    stream
      .command('list')
      .summary('the streams and their devices (from the catalog)')
      .option('--json', 'print {ok, streams: [...]}')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { json?: boolean; timeout?: number }) =>
        use({
          kind: 'query',
          path: '/streams',
          json: o.json === true,
          timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC,
          render: (b) => listOutcome('streams', b, [['STREAM', (r) => r.stream], ['DEVICES', (r) => (Array.isArray(r.devices) ? (r.devices as Json[]).map((d) => d.device ?? d) : r.devices)], ['MIN..MAX', (r) => `${r.minDevices ?? ''}..${r.maxDevices ?? ''}`], ['OBJECTIVE', (r) => r.objectiveBytesPerSec]]),
        }),
      );
    const device = stream.command('device').summary('add or remove a device of a stream');
    for (const verb of ['add', 'remove'] as const) {
      const cmd = device
        .command(verb)
        .summary(`${verb} a device ${verb === 'add' ? 'to' : 'from'} a stream`)
        .argument('<STREAM>', 'the stream', streamArg('STREAM'))
        .argument('<DEVICE>', 'the device name', deviceArg)
        .option('--json', 'print one JSON object with the outcome')
        .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${SOV_TIMEOUT_SEC})`).argParser(timeoutArg));
      if (verb === 'add') cmd.addOption(new Option('--rate <BYTES_PER_S>', 'the device rate').argParser(bytesArg('--rate')));
      cmd.action((s: string, d: string, o: { rate?: number; json?: boolean; timeout?: number }) => {
        const correlationId = `cli-${randomUUID()}`;
        const command = (verb === 'add' ? { type: 'DeviceAdd', stream: s, device: d, correlationId, ...(o.rate ? { rateBytesPerSec: o.rate } : {}) } : { type: 'DeviceRemove', stream: s, device: d, correlationId }) as TopicMessage<'sov.commands'>;
        const want = verb === 'add' ? 'DeviceAdded' : 'DeviceRemoved';
        use(run(`stream device ${verb}`, o.json, (ctx) => sovCommand(ctx, command, (e) => (e.type === want && e.stream === s && e.device === d ? `device ${d} ${verb === 'add' ? 'added to' : 'removed from'} stream ${s}` : undefined), o.timeout ?? SOV_TIMEOUT_SEC, `stream device ${verb}`)));
      });
    }

    const clientFiles = program.command('client-files').summary('client files on streams: list them (from the catalog), verify one');
    clientFiles
      .command('list')
      .summary('client files, their state and volumes')
      .addOption(new Option('--stream <NAME>', 'only this stream').argParser(streamArg('--stream')))
      .addOption(new Option('--dbid <N>', 'only this database').argParser(dbidArg))
      .addOption(new Option('--name <NAME>', 'only this client file name').argParser(nameArg('--name')))
      .option('--json', 'print {ok, clientfiles: [...]}')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { stream?: string; dbid?: number; name?: string; json?: boolean; timeout?: number }) => {
        const q = new URLSearchParams({ ...(o.stream ? { stream: o.stream } : {}), ...(o.dbid ? { dbid: String(o.dbid) } : {}), ...(o.name ? { name: o.name } : {}) }).toString();
        use({
          kind: 'query',
          path: `/client-files${q ? `?${q}` : ''}`,
          json: o.json === true,
          timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC,
          render: (b) => listOutcome('client files', b, [['STREAM', (r) => r.stream], ['CLIENT FILE', (r) => r.clientFile], ['STATE', (r) => r.state], ['DBID', (r) => r.dbid], ['BYTES', (r) => r.bytes], ['VOLUMES', (r) => r.volsers], ['INCARNATION', (r) => r.incarnation]]),
        });
      });
    const volumes = program.command('volumes').summary('tape volumes: list them (from the catalog), verify one, reclaim mostly-expired ones');
    volumes
      .command('list')
      .summary('volumes, their state and fill (LIST)')
      .option('--json', 'print {ok, volumes: [...]}')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { json?: boolean; timeout?: number }) =>
        use({
          kind: 'query',
          path: '/volumes',
          json: o.json === true,
          timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC,
          render: (b) => listOutcome('volumes', b, [['VOLSER', (r) => r.volser], ['STREAM', (r) => r.stream], ['STATE', (r) => r.state], ['BYTES', (r) => r.bytes ?? r.fill], ['CLIENT FILES', (r) => r.clientFiles]]),
        }),
      );
    registerVerify(volumes, clientFiles, use);
    registerReclaim(volumes, use);
    program
      .command('expire')
      .summary('expire client files whose date passed and data sets outside their database\'s retention (never a save a kept chain needs)')
      .option('--as-of <DATE>', 'expire as of this date (ISO 8601; default now)')
      .option('--dry-run', 'say what would expire, change nothing')
      .option('--json', 'print one JSON object with the outcome')
      .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${SOV_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { asOf?: string; dryRun?: boolean; json?: boolean; timeout?: number }) => {
        if (o.asOf !== undefined && Number.isNaN(Date.parse(o.asOf))) throw new CliUsageError(`--as-of: expected a date (ISO 8601), got "${o.asOf}"`);
        use(run('expire', o.json, (ctx) => sovadm(ctx, '/sovadm/expire', { ...(o.asOf ? { asOf: o.asOf } : {}), ...(o.dryRun ? { dryRun: true } : {}) }, o.timeout ?? SOV_TIMEOUT_SEC, 'expire', (r) => expireSummary(r, o.dryRun === true))));
      });
    const catalog = program.command('catalog').summary('back up, restore or rebuild (SCANSTREAMFILE) the streaming catalog');
    catalog
      .command('backup')
      .summary('back the catalog up to a file in its data directory')
      .addOption(new Option('--out <NAME>', 'the backup file name').argParser(nameArg('--out')))
      .option('--json', 'print one JSON object with the outcome')
      .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${SOV_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { out?: string; json?: boolean; timeout?: number }) =>
        use(run('catalog backup', o.json, (ctx) => sovadm(ctx, '/sovadm/backup', o.out ? { name: o.out } : {}, o.timeout ?? SOV_TIMEOUT_SEC, 'catalog backup', (r) => `catalog backed up: ${JSON.stringify(r)}`))),
      );
    catalog
      .command('restore')
      .summary('restore a catalog backup into a schema (checked by its digest)')
      .requiredOption('--from <NAME>', 'the backup file name', nameArg('--from'))
      .requiredOption('--schema <SCHEMA>', 'the schema to restore into')
      .option('--json', 'print one JSON object with the outcome')
      .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${SOV_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: { from: string; schema: string; json?: boolean; timeout?: number }) =>
        use(run('catalog restore', o.json, (ctx) => sovadm(ctx, '/sovadm/restore', { name: o.from, schema: o.schema }, o.timeout ?? SOV_TIMEOUT_SEC, 'catalog restore', (r) => `catalog restored: ${JSON.stringify(r)}`))),
      );
    catalog
      .command('scan')
      .summary('SCANSTREAMFILE: rebuild the client-file catalog from the volumes alone, into a new schema')
      .option('--schema <SCHEMA>', 'the schema to build (default catalog_scan)')
      .option('--full', 'read every byte (default: labels, trailers and checkpoints)')
      .option('--json', 'print one JSON object with the outcome')
      .addOption(new Option('--timeout <SEC>', 'give up after SEC seconds (default 600)').argParser(timeoutArg))
      .action((o: { schema?: string; full?: boolean; json?: boolean; timeout?: number }) =>
        use(run('catalog scan', o.json, (ctx) => sovadm(ctx, '/sovadm/scan', { ...(o.schema ? { schema: o.schema } : {}), ...(o.full ? { mode: 'full' } : {}) }, o.timeout ?? 600, 'catalog scan', (r) => `catalog scanned from the volumes: ${JSON.stringify(r)}`))),
      );
  },
};
