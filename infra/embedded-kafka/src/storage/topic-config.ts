import type { LogConfig } from './partition-log';

/**
 * Topic configuration accepted at creation. Honoured: retention.ms, retention.bytes,
 * segment.bytes, max.message.bytes, cleanup.policy=delete. Refused: cleanup.policy=compact
 * (no compactor here). Accepted but without effect on a single node: the replication,
 * compression-type and timestamp settings listed in IGNORED.
 */
export interface TopicConfig extends LogConfig {
  readonly maxMessageBytes: number;
}

export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  segmentBytes: 256 * 1024 * 1024,
  retentionMs: -1,
  retentionBytes: -1,
  maxMessageBytes: 8 * 1024 * 1024,
};

const IGNORED = new Set([
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'compression.type',
  'message.timestamp.type',
  'message.timestamp.difference.max.ms',
  'message.downconversion.enable',
  'flush.messages',
  'flush.ms',
  'index.interval.bytes',
  'segment.ms',
  'segment.index.bytes',
  'segment.jitter.ms',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'min.compaction.lag.ms',
  'max.compaction.lag.ms',
  'min.cleanable.dirty.ratio',
  'preallocate',
  'local.retention.ms',
  'local.retention.bytes',
]);

export type ConfigResult = { ok: true; config: TopicConfig; raw: Record<string, string> } | { ok: false; message: string };

/** Validates create-topic configs; any problem yields a message for INVALID_CONFIG. */
export function parseTopicConfig(entries: readonly { name: string; value: string | null }[], base: TopicConfig = DEFAULT_TOPIC_CONFIG): ConfigResult {
  const c = { ...base };
  const raw: Record<string, string> = {};
  for (const { name, value } of entries) {
    if (value === null) continue;
    raw[name] = value;
    const num = (min: number): number | null => {
      if (!/^-?\d+$/.test(value)) return null;
      const n = Number(value);
      return Number.isSafeInteger(n) && n >= min ? n : null;
    };
    switch (name) {
      case 'cleanup.policy': {
        const policies = value.split(',').map((s) => s.trim());
        if (policies.includes('compact')) {
          return { ok: false, message: 'cleanup.policy=compact is not supported by the embedded broker (no log compaction); use delete' };
        }
        if (policies.some((p) => p !== 'delete')) return { ok: false, message: `invalid cleanup.policy '${value}'` };
        break;
      }
      case 'retention.ms': {
        const n = num(-1);
        if (n === null) return { ok: false, message: `retention.ms must be an integer >= -1, got '${value}'` };
        c.retentionMs = n;
        break;
      }
      case 'retention.bytes': {
        const n = num(-1);
        if (n === null) return { ok: false, message: `retention.bytes must be an integer >= -1, got '${value}'` };
        c.retentionBytes = n;
        break;
      }
      case 'segment.bytes': {
        const n = num(14);
        if (n === null) return { ok: false, message: `segment.bytes must be an integer >= 14, got '${value}'` };
        c.segmentBytes = n;
        break;
      }
      case 'max.message.bytes': {
        const n = num(0);
        if (n === null) return { ok: false, message: `max.message.bytes must be an integer >= 0, got '${value}'` };
        c.maxMessageBytes = n;
        break;
      }
      default:
        if (!IGNORED.has(name)) return { ok: false, message: `unknown topic config '${name}'` };
    }
  }
  return { ok: true, config: c, raw };
}
