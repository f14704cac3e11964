/**
 * What the console reads from a service's /metrics (Prometheus text): the consumer lag per group,
 * topic and partition (deltaflow_kafka_consumer_lag) and the records it dead-lettered
 * (deltaflow_kafka_messages_dead_lettered_total). Only these two families are read.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

/** The samples of the named metric families in a Prometheus text exposition (comments skipped). */
export function parseSamples(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m || !names.has(m[1])) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

export const LAG = 'deltaflow_kafka_consumer_lag';
export const DEAD_LETTERED = 'deltaflow_kafka_messages_dead_lettered_total';

/** One service's lag rows and dead-lettered total from its /metrics text. */
export function lagOf(service: string, text: string): { lag: Array<{ service: string; group: string; topic: string; partition: number; lag: number }>; deadLettered: number } {
  const samples = parseSamples(text, new Set([LAG, DEAD_LETTERED]));
  const lag = samples
    .filter((s) => s.name === LAG && Number.isFinite(s.value))
    .map((s) => ({ service, group: s.labels.group ?? '', topic: s.labels.topic ?? '', partition: Number(s.labels.partition ?? -1), lag: s.value }))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const deadLettered = samples.filter((s) => s.name === DEAD_LETTERED).reduce((n, s) => n + s.value, 0);
  return { lag, deadLettered };
}
