import * as fs from 'node:fs';
import * as path from 'node:path';
import { GroupCommitFlusher } from './flusher';
import { PartitionLog } from './partition-log';
import { fsyncDir } from '@deltaflow/core';
import type { SegmentLogger } from './segment';
import { DEFAULT_TOPIC_CONFIG, parseTopicConfig, type TopicConfig } from './topic-config';

/**
 * All topics on disk: `<dataDir>/topics/<name>/topic.json` (partition count and raw configs)
 * and one directory per partition holding its segments. A deleted topic is first renamed into
 * `<dataDir>/deleting/` (atomic), then removed; whatever is left there is removed at start.
 * The tombstones live outside `topics/` so that no legal topic name can look like one.
 */
export interface Topic {
  readonly name: string;
  readonly partitions: PartitionLog[];
  config: TopicConfig;
  rawConfig: Record<string, string>;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's legal topic names (and never '.' or '..', which are directory names). */
export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

export class LogStore {
  private readonly topics = new Map<string, Topic>();
  readonly root: string;
  private readonly graveyard: string;
  private tombs = 0;

  constructor(
    dataDir: string,
    readonly flusher: GroupCommitFlusher,
    private readonly log: SegmentLogger,
    /** Broker-wide defaults for topic configs not set on the topic (e.g. --message-max-bytes). */
    readonly defaults: TopicConfig = DEFAULT_TOPIC_CONFIG,
  ) {
    this.root = path.join(dataDir, 'topics');
    this.graveyard = path.join(dataDir, 'deleting');
  }

  /** Loads every topic (recovering each partition's segments). */
  open(): void {
    fs.mkdirSync(this.root, { recursive: true });
    // Deletions interrupted by a crash are finished now.
    fs.rmSync(this.graveyard, { recursive: true, force: true });
    fs.mkdirSync(this.graveyard, { recursive: true });
    for (const entry of fs.readdirSync(this.root)) {
      const dir = path.join(this.root, entry);
      const metaPath = path.join(dir, 'topic.json');
      if (!fs.existsSync(metaPath)) continue;
      const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as { name: string; partitions: number; config: Record<string, string> };
      if (meta.name !== entry) {
        // A directory is a topic only under its own name. Earlier versions renamed a deleted
        // topic to `<name>.deleting-<pid>-<ms>` beside the live ones: such a leftover still
        // names the original topic inside, which is how it is told apart from a live topic
        // whose own name happens to contain ".deleting-".
        if (/\.deleting-\d+-\d+$/.test(entry) && entry.startsWith(`${meta.name}.deleting-`)) {
          this.log('info', `removing ${dir}, left by an interrupted deletion of topic ${meta.name}`);
          fs.rmSync(dir, { recursive: true, force: true });
        } else {
          this.log('warn', `ignoring ${dir}: its topic.json names topic '${meta.name}'`);
        }
        continue;
      }
      const parsed = parseTopicConfig(Object.entries(meta.config).map(([name, value]) => ({ name, value })), this.defaults);
      if (!parsed.ok) {
        this.log('error', `topic ${meta.name}: stored config rejected (${parsed.message}); using defaults`);
      }
      const config = parsed.ok ? parsed.config : this.defaults;
      const partitions: PartitionLog[] = [];
      for (let p = 0; p < meta.partitions; p++) {
        partitions.push(PartitionLog.open(meta.name, p, PartitionLog.dirFor(dir, p), config, this.log));
      }
      this.topics.set(meta.name, { name: meta.name, partitions, config, rawConfig: meta.config });
    }
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  list(): Topic[] {
    return [...this.topics.values()];
  }

  /** Creates a topic directory with its metadata file and empty partitions (caller validated). */
  create(name: string, partitions: number, config: TopicConfig, rawConfig: Record<string, string>): Topic {
    const dir = path.join(this.root, name);
    fs.mkdirSync(dir, { recursive: true });
    this.writeMeta(dir, name, partitions, rawConfig);
    const logs: PartitionLog[] = [];
    for (let p = 0; p < partitions; p++) logs.push(PartitionLog.open(name, p, PartitionLog.dirFor(dir, p), config, this.log));
    fsyncDir(this.root);
    const t: Topic = { name, partitions: logs, config, rawConfig };
    this.topics.set(name, t);
    return t;
  }

  /** Adds partitions up to `count` (caller checked count > current). */
  addPartitions(name: string, count: number): void {
    const t = this.topics.get(name);
    if (!t) return;
    const dir = path.join(this.root, name);
    for (let p = t.partitions.length; p < count; p++) {
      t.partitions.push(PartitionLog.open(name, p, PartitionLog.dirFor(dir, p), t.config, this.log));
    }
    this.writeMeta(dir, name, count, t.rawConfig);
  }

  /** Removes a topic: renamed away first (atomic), then deleted. */
  delete(name: string): boolean {
    const t = this.topics.get(name);
    if (!t) return false;
    this.topics.delete(name);
    for (const p of t.partitions) {
      this.flusher.forget(p.activeSegment);
      p.notify();
      p.close(false);
    }
    const dir = path.join(this.root, name);
    const tomb = path.join(this.graveyard, `${name}-${process.pid}-${++this.tombs}`);
    fs.renameSync(dir, tomb);
    fsyncDir(this.root);
    fsyncDir(this.graveyard);
    fs.rmSync(tomb, { recursive: true, force: true });
    return true;
  }

  private writeMeta(dir: string, name: string, partitions: number, config: Record<string, string>): void {
    const tmp = path.join(dir, 'topic.json.tmp');
    const fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, JSON.stringify({ name, partitions, config }, null, 2));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(dir, 'topic.json'));
    fsyncDir(dir);
  }

  /** Highest producer id found in any partition's log or producer state. */
  maxProducerId(): number {
    let m = -1;
    for (const t of this.topics.values()) for (const p of t.partitions) m = Math.max(m, p.producers.maxProducerId);
    return m;
  }

  applyRetention(nowMs: number): void {
    for (const t of this.topics.values()) for (const p of t.partitions) p.applyRetention(nowMs);
  }

  /** Flushes everything (clean shutdown) and closes all files. */
  close(): void {
    for (const t of this.topics.values()) {
      for (const p of t.partitions) {
        try {
          p.activeSegment.sync();
        } catch {
          // closing anyway; data written is in the page cache
        }
        p.close();
      }
    }
    this.topics.clear();
  }
}
