/**
 * Which partitions this instance of a service owns, and the hook that moves per-database state
 * with them.
 *
 * The Kafka transport (KafkaEventServer, with the co-partitioned assigner) tells `Assignments`
 * the partitions of each assignment; a provider that keeps per-database state listens and
 * rebuilds the state of what it received (from the log or a checkpoint) before any record of the
 * new assignment is handled: the transport holds the batches of a new assignment until every
 * listener is done. With co-partitioned topics a partition index stands for a set of databases
 * (the ones whose key hashes there), the same on every topic of the service.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { Injectable } from '@nestjs/common';

/** topic -> partitions this member owns */
export type Assignment = ReadonlyMap<string, readonly number[]>;

export type AssignmentListener = (now: AssignmentChange) => Promise<void> | void;

export interface AssignmentChange {
  readonly assignment: Assignment;
  /** partition indices owned now (over every topic) */
  readonly indices: ReadonlySet<number>;
  /** indices owned now and not before */
  readonly gained: ReadonlySet<number>;
  /** indices owned before and not now */
  readonly lost: ReadonlySet<number>;
  /** the generation of this assignment, counting from 1 in this process */
  readonly generation: number;
}

const indicesOf = (a: Assignment): Set<number> => new Set([...a.values()].flat());

/** host:pid:random, unique per instance (two in one process too); at most 96 characters */
const newInstanceId = (): string => `${os.hostname().slice(0, 64)}:${process.pid}:${randomBytes(4).toString('hex')}`;

@Injectable()
export class Assignments {
  /**
   * This instance among its group: part of its Kafka client id, and what a service writes into
   * the events of work it runs (SaveStarted.instance), so that another instance can tell whether
   * that work still has someone running it (liveInstances).
   */
  readonly instanceId = newInstanceId();
  private members?: () => Promise<ReadonlySet<string>>;
  private seeker?: (topic: string, partition: number, offset: bigint) => void;
  private readonly listeners: AssignmentListener[] = [];
  private currentIndices: ReadonlySet<number> = new Set();
  private current: Assignment = new Map();
  private generation = 0;
  private pending: Promise<void> = Promise.resolve();
  private known = false;
  private resolveFirst!: () => void;
  /** resolves once the first assignment was applied (a service is ready then) */
  readonly firstApplied: Promise<void> = new Promise((r) => (this.resolveFirst = r));

  /** Called on every assignment after the listeners registered before it (in registration order). */
  listen(listener: AssignmentListener): void {
    this.listeners.push(listener);
  }

  /** The transport's side: how to ask the group coordinator which instances are members now. */
  setMembership(members: () => Promise<ReadonlySet<string>>): void {
    this.members = members;
  }

  /** The transport's side: how to make the consumer read a partition from another offset. */
  setSeeker(seek: (topic: string, partition: number, offset: bigint) => void): void {
    this.seeker = seek;
  }

  /**
   * A listener's side: the records of a partition just gained are read from `offset` (the
   * service's own checkpoint, when it is the truth and Kafka's committed offset may be ahead of
   * it); the batch already fetched from elsewhere is dropped. Without a transport: nothing to do.
   */
  rewind(topic: string, partition: number, offset: bigint): void {
    this.seeker?.(topic, partition, offset);
  }

  /**
   * The instance ids of the group's members now (this one included). Work whose instance is not
   * among them has nobody running it. Without a transport: this instance alone.
   */
  liveInstances(): Promise<ReadonlySet<string>> {
    return this.members ? this.members() : Promise.resolve(new Set([this.instanceId]));
  }

  /** The partition indices owned now. */
  indices(): ReadonlySet<number> {
    return this.currentIndices;
  }

  /** True once the first assignment arrived. */
  get assigned(): boolean {
    return this.known;
  }

  /** This member's partitions of `topic` now. */
  partitionsOf(topic: string): readonly number[] {
    return this.current.get(topic) ?? [];
  }

  /**
   * The transport's side: a new assignment. Listeners run one assignment after another (a
   * rebalance during a rebuild queues the next); the promise settles when this one is applied.
   * An assignment equal to the current one calls no listener.
   */
  assign(assignment: Assignment): Promise<void> {
    const run = this.pending.then(async () => {
      if (this.known && sameAssignment(this.current, assignment)) return;
      const indices = indicesOf(assignment);
      const before = this.currentIndices;
      const change: AssignmentChange = {
        assignment,
        indices,
        gained: new Set([...indices].filter((i) => !before.has(i))),
        lost: new Set([...before].filter((i) => !indices.has(i))),
        generation: this.generation + 1,
      };
      // applied only once every listener is done: a listener that fails (the broker is away
      // during a rebuild) is run again with the same change when the transport retries
      for (const l of this.listeners) await l(change);
      this.current = assignment;
      this.currentIndices = indices;
      this.generation = change.generation;
      this.known = true;
      this.resolveFirst();
    });
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every assignment received so far has been applied by the listeners. */
  settled(): Promise<void> {
    return this.pending;
  }
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [t, ps] of a) {
    const qs = b.get(t);
    if (!qs || qs.length !== ps.length) return false;
    const set = new Set(qs);
    if (ps.some((p) => !set.has(p))) return false;
  }
  return true;
}
