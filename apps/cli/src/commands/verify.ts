/**
 * Verification, from `dsf`:
 *   dsf volumes verify VOLSER [--json]                    every CRC, the trailer and checkpoints, the placements
 *   dsf client-files verify NAME [--stream S] [--json]    reassembled and checked against its close record
 * The catalog says which stream the volume or client file is on; the command (VolumeVerify,
 * ClientFileVerify) goes on sov.commands keyed by that stream, so the multiplexer instance serving
 * it reads the volumes; the answer is its VolumeVerified / ClientFileVerified on sov.events (the
 * catalog keeps them: GET /verifications). Exit 0 when verified, 1 when problems were found or the
 * volume or file is unknown, 3 when no answer came in time.
 */
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { MessageOfType } from '@deltaflow/contracts';
import { CliUsageError, nameArg, streamArg, timeoutArg } from '../options';
import type { Json, Outcome } from '../outcome';
import type { Plan } from '../plan';
import { catalogGet, run, sovCommand } from './streams';

const VERIFY_TIMEOUT_SEC = 600;

const volserArg = (v: string) => {
  if (!/^[A-Z0-9]{1,6}$/.test(v)) throw new CliUsageError(`VOLSER: expected 1-6 of A-Z 0-9, got "${v}"`);
  return v;
};

type Problem = { volser?: string; position?: number; kind: string; reason: string };
const problemLine = (p: Problem) => `  ${p.volser ?? ''}${p.position !== undefined ? `@${p.position}` : ''} ${p.kind}: ${p.reason}`;

function volumeOutcome(e: MessageOfType<'VolumeVerified'>): Outcome {
  const json: Json = { command: 'volumes verify', ...e };
  if (e.ok) return { exitCode: 0, lines: [`volume ${e.volser} verified${e.status === 'mounted' ? ` up to position ${e.end} (mounted)` : ''}: ${e.runs} runs, ${e.superblocks} superblocks, no problems`], json };
  return {
    exitCode: 1,
    lines: [`volume ${e.volser} failed verification: ${e.problemCount} problem${e.problemCount === 1 ? '' : 's'}`, ...e.problems.map(problemLine), ...(e.problemCount > e.problems.length ? [`  … ${e.problemCount - e.problems.length} more`] : [])],
    json,
  };
}

function clientFileOutcome(e: MessageOfType<'ClientFileVerified'>): Outcome {
  const json: Json = { command: 'client-files verify', ...e };
  if (e.ok) return { exitCode: 0, lines: [`client file ${e.stream}/${e.clientFile} (${e.incarnation}) verified: ${e.superblocks} superblocks, ${e.bytes} bytes, SHA-256 ${e.sha256} as its close record says`], json };
  return { exitCode: 1, lines: [`client file ${e.stream}/${e.clientFile} failed verification`, ...e.problems.map(problemLine)], json };
}

const refused = (command: string, reason: string): Outcome => ({ exitCode: 1, lines: [`${command} refused: ${reason}`], json: { ok: false, command, code: 'NOT_FOUND', error: reason } });

export function registerVerify(volumes: Command, clientFiles: Command, use: (plan: Plan) => void): void {
  volumes
    .command('verify')
    .summary('read a volume whole: every CRC, its trailer and checkpoints, and the catalog\'s placements on it')
    .argument('<VOLSER>', 'the volume', volserArg)
    .option('--json', 'print one JSON object with the outcome (the VolumeVerified event)')
    .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${VERIFY_TIMEOUT_SEC})`).argParser(timeoutArg))
    .action((volser: string, o: { json?: boolean; timeout?: number }) =>
      use(
        run('volumes verify', o.json, async (ctx) => {
          const vols = await catalogGet<Array<{ volser: string; stream: string; state: string }>>(ctx, '/volumes');
          const v = vols.find((x) => x.volser === volser);
          if (!v) return refused('volumes verify', `the catalog knows no volume ${volser}`);
          if (v.state === 'scratch') return refused('volumes verify', `volume ${volser} was returned to scratch: it holds nothing to verify`);
          const correlationId = `cli-${randomUUID()}`;
          return sovCommand(
            ctx,
            { type: 'VolumeVerify', stream: v.stream, volser, correlationId },
            (e) => (e.type === 'VolumeVerified' && e.correlationId === correlationId ? volumeOutcome(e) : undefined),
            o.timeout ?? VERIFY_TIMEOUT_SEC,
            'volumes verify',
          );
        }),
      ),
    );
  clientFiles
    .command('verify')
    .summary('read a client file back whole and check it against its close record (superblocks, bytes, SHA-256)')
    .argument('<NAME>', 'the client file name (its latest incarnation)', nameArg('NAME'))
    .addOption(new Option('--stream <NAME>', 'the stream (needed when the name is on several)').argParser(streamArg('--stream')))
    .option('--json', 'print one JSON object with the outcome (the ClientFileVerified event)')
    .addOption(new Option('--timeout <SEC>', `give up after SEC seconds (default ${VERIFY_TIMEOUT_SEC})`).argParser(timeoutArg))
    .action((name: string, o: { stream?: string; json?: boolean; timeout?: number }) =>
      use(
        run('client-files verify', o.json, async (ctx) => {
          const q = new URLSearchParams({ name, ...(o.stream ? { stream: o.stream } : {}) }).toString();
          const files = await catalogGet<Array<{ stream: string; incarnation: string; state: string; openedAt: number }>>(ctx, `/client-files?${q}`);
          const streams = [...new Set(files.map((f) => f.stream))];
          if (streams.length === 0) return refused('client-files verify', `the catalog knows no client file ${name}${o.stream ? ` on stream ${o.stream}` : ''}`);
          if (streams.length > 1) return refused('client-files verify', `client file ${name} is on streams ${streams.join(', ')}: name one with --stream`);
          // the latest incarnation of the name, as a restore by name would read it
          const closed = files.filter((f) => f.state === 'closed');
          const latest = (closed.length ? closed : files).reduce((a, b) => (b.openedAt > a.openedAt ? b : a));
          const correlationId = `cli-${randomUUID()}`;
          return sovCommand(
            ctx,
            { type: 'ClientFileVerify', stream: streams[0], clientFile: name, incarnation: latest.incarnation, correlationId },
            (e) => (e.type === 'ClientFileVerified' && e.correlationId === correlationId ? clientFileOutcome(e) : undefined),
            o.timeout ?? VERIFY_TIMEOUT_SEC,
            'client-files verify',
          );
        }),
      ),
    );
}
