/**
 * One member of a co-partitioned consumer group, for any Kafka transport of the kit (the
 * KafkaEventServer and the stream multiplexer's spool): its client id names the instance (so the
 * group's member list says which instances live), partitions are assigned by the co-partitioned
 * assigner, every assignment goes to `Assignments` (whose listeners move per-key state), and the
 * batches of a new assignment wait until the listeners applied it, heartbeating meanwhile.
 */
import type { Admin, Consumer, Kafka, PartitionAssigner } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { Assignments } from './assignments';
import { coPartitionedAssigner } from './co-partitioned-assigner';

const INSTANCE_SEPARATOR = '@';

/** The instance id in a member's client id (`<service>@<instance>`), if it is one of ours. */
export function instanceOfClientId(clientId: string): string | undefined {
  const at = clientId.indexOf(INSTANCE_SEPARATOR);
  return at >= 0 ? clientId.slice(at + 1) : undefined;
}

/** The partition of `key` among `partitions`, as the producers' default (murmur2) partitioner puts it. */
export function partitionOfKey(key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return Partitioners.DefaultPartitioner()({ topic: 'any', partitionMetadata, message: { key, value: null } });
}

export class GroupMembership {
  readonly assignments: Assignments;
  /** the assignment kafkajs gave last, applied by the listeners before its batches run */
  private received?: Map<string, number[]>;

  constructor(
    private readonly groupId: string,
    assignments?: Assignments,
    private readonly log?: (msg: string) => void,
  ) {
    this.assignments = assignments ?? new Assignments();
  }

  /** `<service>@<instance>`: the member list of the group names the live instances. */
  clientId(service: string): string {
    return `${service}${INSTANCE_SEPARATOR}${this.assignments.instanceId}`;
  }

  /** The assigners to give kafkajs' consumer. */
  partitionAssigners(): PartitionAssigner[] {
    return [coPartitionedAssigner({ current: () => [...this.assignments.indices()] }, (m) => this.log?.(m))];
  }

  /**
   * Hooks the consumer: membership answers from the group coordinator, and every assignment
   * (kafkajs emits GROUP_JOIN synchronously after each SyncGroup, before it fetches for it) is
   * handed to Assignments; `onJoin` sees it first (a transport forgets what it held of lost partitions).
   */
  attach(kafka: Kafka, consumer: Consumer, onJoin?: (assignment: ReadonlyMap<string, number[]>) => void): Admin {
    const admin = kafka.admin();
    this.assignments.setMembership(async () => {
      await admin.connect();
      const [g] = (await admin.describeGroups([this.groupId])).groups;
      return new Set((g?.members ?? []).map((m) => instanceOfClientId(m.clientId)).filter((i): i is string => i !== undefined));
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const received = new Map(Object.entries(e.payload.memberAssignment as Record<string, number[]>));
      this.received = received;
      const parts = [...received].map(([t, ps]) => `${t}[${[...ps].sort((a, b) => a - b).join(',')}]`).join(' ');
      this.log?.(`assigned ${parts || 'nothing (more instances than partitions: idle)'}`);
      onJoin?.(received);
      void this.assignments.assign(received).catch((err) => this.log?.(`state rebuild for the new assignment failed, retried with the next batch: ${(err as Error).message}`));
    });
    return admin;
  }

  /** Holds a batch until the listeners applied the current assignment (heartbeating meanwhile). */
  async applied(heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<void> {
    if (!this.received) return;
    const run = this.assignments.assign(this.received); // at once when it is applied already
    let done = false;
    let failure: unknown;
    run.then(
      () => (done = true),
      (e: unknown) => ((failure = e), (done = true)),
    );
    while (!done) {
      await Promise.race([run.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
      if (done) break;
      // a slow rebuild must not cost the group membership
      if (!isRunning()) throw new Error('consumer stopping during a state rebuild');
      await heartbeat();
    }
    // transient (the broker away during the rebuild): kafkajs retries the batch, which retries the rebuild
    if (failure !== undefined) throw failure;
  }
}
