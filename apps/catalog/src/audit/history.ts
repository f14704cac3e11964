/**
 * `dsf history DSID|NAME` (GET /history?subject=S): every event that concerns one save, data set
 * or client file, in log order, with where it lies (topic, partition, offset, append time).
 *
 * An event concerns the subject when it names it (its DSID formatted as the catalog prints it, a
 * location or client file name, a merge or restore input, an incarnation or a correlation id), or
 * when it belongs to an operation or client file that does (same correlation id or incarnation:
 * a save's start and progress, a client file's runs, close and expiry). The log is read from its
 * start to its end as of the request; entries are in each partition's offset order, partitions
 * merged by append time (a record's time is shown as the latest append time so far in its
 * partition, so that producers' differing clocks never reorder a partition).
 */
import { Topic } from '@deltaflow/contracts';
import { formatDsid, type Dsid } from '@deltaflow/dsid';
import { TopicReader } from '@deltaflow/service-kit';
import { CatalogError } from '../errors';
import type { CatalogEvent } from '../projection';

export interface HistoryEntry {
  topic: string;
  partition: number;
  offset: number;
  /** append time (ISO) */
  time: string;
  type: string;
  event: CatalogEvent;
}

const SUBJECT = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

export function parseSubject(raw: unknown): string {
  if (typeof raw !== 'string' || !SUBJECT.test(raw)) throw new CatalogError('VALIDATION', `subject: expected a DSID or a data set or client file name (1-200 of A-Z a-z 0-9 . _ : / @ + -), got ${JSON.stringify(raw).slice(0, 80)}`);
  return raw;
}

const isDsid = (v: unknown): v is Dsid => typeof v === 'object' && v !== null && 'full' in v && 'lineage' in v;

/** The names an event gives directly (DSIDs, locations, inputs, client files, ids). */
function namesOf(e: CatalogEvent): string[] {
  const x = e as unknown as Record<string, unknown>;
  const out: string[] = [];
  if (isDsid(x.dsid)) out.push(formatDsid(x.dsid));
  const loc = x.location as { kind?: string; name?: string; stream?: string; clientFile?: string } | undefined;
  if (loc?.kind === 'directory' && loc.name) out.push(loc.name);
  if (loc?.kind === 'stream' && loc.clientFile) out.push(loc.clientFile, `stream:${loc.stream}/${loc.clientFile}`);
  if (Array.isArray(x.inputs)) for (const i of x.inputs) if (typeof i === 'string') out.push(i);
  for (const f of ['clientFile', 'incarnation', 'correlationId', 'target', 'shadow'] as const) if (typeof x[f] === 'string') out.push(x[f] as string);
  return out;
}

/** Every event concerning `subject` (see the file comment). */
export async function historyOf(brokers: readonly string[], subject: string): Promise<HistoryEntry[]> {
  const all: HistoryEntry[] = [];
  const clock = new Map<string, number>();
  const reader = new TopicReader<CatalogEvent>({
    brokers,
    clientId: 'catalog-history',
    topics: [Topic.dsfEvents, Topic.dlog, Topic.sovEvents],
    until: 'end',
    onBatch: (batch) => {
      for (const r of batch) {
        const key = `${r.at.topic}:${r.at.partition}`;
        // the partition's order is the truth: a record never sorts before an earlier one of its partition (producers' clocks differ)
        const t = Math.max(r.timestamp, clock.get(key) ?? 0);
        clock.set(key, t);
        // only what names something can concern the subject (the DLOG's changes name nothing; a capture names its save)
        if (namesOf(r.message).length === 0) continue;
        all.push({ topic: r.at.topic, partition: r.at.partition, offset: Number(r.at.offset), time: new Date(t).toISOString(), type: r.message.type, event: r.message });
      }
    },
  });
  try {
    await reader.start();
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  // the operations and client files the subject names: their ids pull in the rest of their events
  const ids = new Set<string>();
  const direct = all.filter((h) => namesOf(h.event).includes(subject));
  for (const h of direct) {
    const x = h.event as unknown as Record<string, unknown>;
    if (typeof x.correlationId === 'string') ids.add(x.correlationId);
    if (typeof x.incarnation === 'string') ids.add(x.incarnation);
  }
  const concerned = all.filter((h) => {
    const x = h.event as unknown as Record<string, unknown>;
    return namesOf(h.event).includes(subject) || (typeof x.correlationId === 'string' && ids.has(x.correlationId)) || (typeof x.incarnation === 'string' && ids.has(x.incarnation));
  });
  const topicOrder = (t: string) => [Topic.dsfEvents, Topic.dlog, Topic.sovEvents].indexOf(t as never);
  concerned.sort((a, b) => a.time.localeCompare(b.time) || topicOrder(a.topic) - topicOrder(b.topic) || a.partition - b.partition || a.offset - b.offset);
  return concerned;
}
