/**
 * How progress reaches the operator while a command runs:
 * - on a terminal (stdout is a TTY, no --json): a progress bar (cli-progress) fed by SaveProgress /
 *   OperationProgress, with the other lines printed above it;
 * - otherwise: one line per step on stdout, as a log reads best;
 * - with --json: the same lines on stderr, so stdout holds nothing but the JSON outcome.
 */
import { Format, MultiBar, Presets, type Options, type Params, type SingleBar } from 'cli-progress';
import type { Progress } from './outcome';

/** The terminal a bar is drawn on (process.stdout when it is a TTY). */
export interface TerminalStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(s: string): unknown;
}

export interface ProgressSink {
  line(text: string): void;
  /** an event's progress: a step of the bar on a terminal, its line elsewhere */
  show(p: Progress): void;
  /** ends the bar (its last state stays on screen); idempotent */
  stop(): void;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function formatBar(options: Options, params: Params, payload: { unit: 'blocks' | 'bytes'; known: boolean }): string {
  const show = (n: number) => (payload.unit === 'bytes' ? mib(n) : `${n} blocks`);
  if (!payload.known) return `  ${show(params.value)} so far`;
  const pct = `${Math.floor(params.progress * 100)}`.padStart(3);
  return `  ${Format.BarFormat(params.progress, options)} ${pct}% ${show(params.value)} of ${show(params.total)}`;
}

export function progressSink(o: { json: boolean; out: (l: string) => void; err: (l: string) => void; terminal?: TerminalStream }): ProgressSink {
  if (o.json || !o.terminal?.isTTY) {
    const line = o.json ? o.err : o.out;
    let last: string | undefined; // a progress line equal to the one before says nothing new
    const show = (p: Progress) => {
      if (p.line === undefined || p.line === last) return;
      last = p.line;
      line(p.line);
    };
    return { line, show, stop: () => undefined };
  }
  const terminal = o.terminal;
  let multi: MultiBar | undefined;
  let bar: SingleBar | undefined;
  const line = (text: string) => {
    if (multi) multi.log(`${text}\n`);
    else o.out(text);
  };
  const step = (s: NonNullable<Progress['step']>) => {
    const known = s.total !== undefined;
    if (!multi || !bar) {
      multi = new MultiBar({ stream: terminal as NodeJS.WritableStream, format: formatBar as never, hideCursor: true, barsize: 30, fps: 10, clearOnComplete: false }, Presets.shades_classic);
      bar = multi.create(s.total ?? Math.max(1, s.done), s.done, { unit: s.unit, known });
      return;
    }
    if (known) bar.setTotal(s.total as number);
    bar.update(s.done, { unit: s.unit, known });
  };
  return {
    line,
    show: (p) => (p.step ? step(p.step) : p.line !== undefined && line(p.line)),
    stop() {
      if (!multi) return;
      multi.update(); // writes the lines logged since the last frame
      multi.stop();
      multi = undefined;
      bar = undefined;
    },
  };
}
