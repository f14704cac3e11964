/**
 * The metrics of a Deltaflow process, in one prom-client registry per process (`metricsRegistry`),
 * served as Prometheus text on GET /metrics. Every name starts with `deltaflow_`, prom-client's
 * default Node.js metrics included (`deltaflow_process_cpu_seconds_total`,
 * `deltaflow_nodejs_eventloop_lag_seconds`, ...), so `{__name__=~"deltaflow_.*"}` selects all of it.
 *
 * The service kit feeds the generic ones (Kafka consumption in KafkaEventServer, every record a
 * producer of `createKafka` sends, operations derived from the events published). A service adds a
 * domain gauge with `registerGauges` (read at scrape time, nothing to keep up to date), e.g. the
 * change logger's DLOG size; the stream multiplexer its devices with `registerStreamDevices`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ServiceKitError } from '../errors';

export const METRICS_PREFIX = 'deltaflow_';

let registry: Registry | undefined;

/** The process's registry (created with the default Node.js metrics on first use). */
export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  }
  return registry;
}

/** The registry as Prometheus text (what GET /metrics answers). */
export function metricsText(): Promise<string> {
  return metricsRegistry().metrics();
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Seconds: from a fast handler call to a long save. */
const DURATION_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

function instruments(r: Registry) {
  const registers = [r];
  return {
    handled: new Counter({
      name: 'deltaflow_kafka_messages_handled_total',
      help: 'Records a Kafka transport handled (accepted by their handler; dead-lettered ones not included), per consumer group and topic',
      labelNames: ['group', 'topic'] as const,
      registers,
    }),
    deadLettered: new Counter({
      name: 'deltaflow_kafka_messages_dead_lettered_total',
      help: 'Records sent to <topic>.dlq (refused for good: undecodable or rejected by the handler), per consumer group, source topic and error code',
      labelNames: ['group', 'topic', 'code'] as const,
      registers,
    }),
    handlerErrors: new Counter({
      name: 'deltaflow_kafka_handler_errors_total',
      help: 'Transient handler failures (the records are redelivered), per consumer group and topic',
      labelNames: ['group', 'topic'] as const,
      registers,
    }),
    handlerSeconds: new Histogram({
      name: 'deltaflow_kafka_handler_duration_seconds',
      help: 'Time in one handler call (one record, or one batch for batch handlers), per consumer group and topic',
      labelNames: ['group', 'topic'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    lag: new Gauge({
      name: 'deltaflow_kafka_consumer_lag',
      help: 'Records not yet consumed: high watermark minus the committed offset, per consumer group and assigned partition (refreshed every few seconds)',
      labelNames: ['group', 'topic', 'partition'] as const,
      registers,
    }),
    published: new Counter({
      name: 'deltaflow_events_published_total',
      help: 'Records this process produced to Kafka (acknowledged), per topic and message type',
      labelNames: ['topic', 'type'] as const,
      registers,
    }),
    operations: new Counter({
      name: 'deltaflow_operations_total',
      help: 'Saves, merges and restores ended, per operation and outcome (completed, failed, interrupted)',
      labelNames: ['operation', 'outcome'] as const,
      registers,
    }),
    operationSeconds: new Histogram({
      name: 'deltaflow_operation_duration_seconds',
      help: 'Duration of saves, merges and restores from their Started event to their outcome (both published by this process), per operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    operationsRunning: new Gauge({
      name: 'deltaflow_operations_running',
      help: 'Saves, merges and restores started by this process and not ended yet',
      labelNames: ['operation'] as const,
      registers,
    }),
    bytesWritten: new Counter({
      name: 'deltaflow_bytes_written_total',
      help: 'Bytes of data sets written, per kind (save: SaveCompleted.bytes, merge: MergeCompleted.bytes, file-unload: FileUnloaded.bytes)',
      labelNames: ['kind'] as const,
      registers,
    }),
    blocksWritten: new Counter({
      name: 'deltaflow_blocks_written_total',
      help: 'Blocks written, per kind (save, merge, dsim-unload, dsim-snapshot, restore, file-unload), from the outcome events',
      labelNames: ['kind'] as const,
      registers,
    }),
    superblocksPlaced: new Counter({
      name: 'deltaflow_superblocks_placed_total',
      help: 'Superblocks placed on volumes (RunPlaced events), per stream',
      labelNames: ['stream'] as const,
      registers,
    }),
    streamBytesPlaced: new Counter({
      name: 'deltaflow_stream_bytes_placed_total',
      help: 'Plaintext bytes placed on volumes (RunPlaced.bytes), per stream',
      labelNames: ['stream'] as const,
      registers,
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof instruments>;
let metrics: ServiceMetrics | undefined;

/** The generic instruments of the service kit (created once per process). */
export function serviceMetrics(): ServiceMetrics {
  return (metrics ??= instruments(metricsRegistry()));
}

// ---------------------------------------------------------------------------------------
// Gauges read at scrape time

export type LabelValues = Record<string, string | number>;
/** One sample: its labels and value. */
export type Sample = readonly [labels: LabelValues, value: number];

export interface GaugeDefinition {
  readonly help: string;
  readonly labelNames: readonly string[];
  /** the current samples, read at each scrape */
  read(): Iterable<Sample> | Promise<Iterable<Sample>>;
}

interface ScrapedGauge {
  readonly labelNames: readonly string[];
  readonly sources: Set<GaugeDefinition['read']>;
}
const scraped = new Map<string, ScrapedGauge>();

/**
 * Registers gauges whose samples are read when scraped: `{ deltaflow_x: { help, labelNames, read } }`.
 * Names must start with `deltaflow_`. Several registrations of one name (two instances of a service
 * in one test process) are merged. Returns a function that removes this registration's samples;
 * call it when the service stops.
 */
export function registerGauges(defs: Readonly<Record<string, GaugeDefinition>>): () => void {
  const added: Array<[string, GaugeDefinition['read']]> = [];
  for (const [name, def] of Object.entries(defs)) {
    if (!name.startsWith(METRICS_PREFIX) || !/^[a-z_][a-z0-9_]*$/.test(name)) {
      throw new ServiceKitError('VALIDATION', `metric ${JSON.stringify(name)}: expected a name of [a-z0-9_] starting with ${METRICS_PREFIX}`);
    }
    let g = scraped.get(name);
    if (!g) {
      const sources = new Set<GaugeDefinition['read']>();
      g = { labelNames: [...def.labelNames], sources };
      new Gauge({
        name,
        help: def.help,
        labelNames: [...def.labelNames],
        registers: [metricsRegistry()],
        async collect() {
          this.reset();
          for (const read of sources) {
            for (const [labels, value] of await read()) this.set(labels, value);
          }
        },
      });
      scraped.set(name, g);
    } else if (g.labelNames.join(',') !== def.labelNames.join(',')) {
      throw new ServiceKitError('VALIDATION', `metric ${name}: registered before with labels [${g.labelNames.join(', ')}], now [${def.labelNames.join(', ')}]`);
    }
    // the same function twice is one source: wrap it so each registration counts
    const read: GaugeDefinition['read'] = () => def.read();
    g.sources.add(read);
    added.push([name, read]);
  }
  return () => {
    for (const [name, read] of added) scraped.get(name)?.sources.delete(read);
  };
}

// ---------------------------------------------------------------------------------------
// The stream multiplexer's devices

/** What the multiplexer knows of one device (its runtime's `utilisation()` plus names). */
export interface StreamDeviceSample {
  readonly stream: string;
  readonly device: string;
  /** busy share of the recent window, 0..1 (null/undefined: not measured yet) */
  readonly ratio?: number | null;
  /** time spent writing since start, ms */
  readonly busyMs?: number;
  /** bytes written to volumes since start */
  readonly bytesWritten?: number;
}

/**
 * The hook for the stream multiplexer: `registerStreamDevices(() => devices)` once at start (the
 * function is read at each scrape) gives deltaflow_device_utilisation_ratio,
 * deltaflow_device_busy_seconds and deltaflow_device_bytes_written, labelled {stream, device}.
 * Superblocks placed per stream need nothing: they are counted from the RunPlaced events it publishes.
 */
export function registerStreamDevices(read: () => Iterable<StreamDeviceSample>): () => void {
  const pick = (f: (d: StreamDeviceSample) => number | null | undefined) => () => {
    const out: Sample[] = [];
    for (const d of read()) {
      const v = f(d);
      if (typeof v === 'number' && Number.isFinite(v)) out.push([{ stream: d.stream, device: d.device }, v]);
    }
    return out;
  };
  return registerGauges({
    deltaflow_device_utilisation_ratio: { help: 'Busy share of a stream device over the multiplexer\'s recent window (0..1)', labelNames: ['stream', 'device'], read: pick((d) => d.ratio) },
    deltaflow_device_busy_seconds: { help: 'Time a stream device spent writing since the multiplexer started (rate() of it is the utilisation)', labelNames: ['stream', 'device'], read: pick((d) => (d.busyMs === undefined ? undefined : d.busyMs / 1000)) },
    deltaflow_device_bytes_written: { help: 'Bytes a stream device wrote to volumes since the multiplexer started', labelNames: ['stream', 'device'], read: pick((d) => d.bytesWritten) },
  });
}
