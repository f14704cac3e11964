/**
 * What the topic retentions keep of one database's partition now (for `dsf report` and the
 * console): for dsf.block-changes, dsf.plog and dsf.dlog, the partition's log start (where the
 * last cut is) and end, and the committed offset of every consumer group on it, lowest first:
 * the readers that hold the next cut back (docs/ARCHITECTURE.md "Retention": the change logger
 * cuts dsf.block-changes below the lowest live reader and dsf.dlog below its snapshots, the DSIM
 * builder cuts dsf.plog at the sync before the start of the last DSIM_BUILDER_PLOG_KEEP_SAVES saves).
 * Asked of Kafka when the report is made; unreachable, the report says so and goes on.
 */
import { Topic } from '@deltaflow/contracts';
import { partitionOfKey } from '@deltaflow/service-kit';
import type { Admin } from 'kafkajs';

export interface TopicRetentionView {
  readonly topic: string;
  readonly partition: number;
  readonly logStart: number;
  readonly end: number;
  /** who cuts it, and by what rule */
  readonly cutBy: string;
  /** consumer groups' committed offsets on the partition, lowest first (what holds the next cut) */
  readonly readers: Array<{ group: string; offset: number }>;
}

const CUT_BY: Record<string, string> = {
  [Topic.blockChanges]: 'the change logger, below the lowest committed offset of its live readers and of any save holding a DLOG capture',
  [Topic.plog]: 'the DSIM builder, at the PLOG sync before the start of the last DSIM_BUILDER_PLOG_KEEP_SAVES saves, below what it stored',
  [Topic.dlog]: 'the change logger, below its last round of DLOG snapshots, once its live readers are past it',
};

export async function topicRetentionOf(admin: Admin, dbid: number): Promise<TopicRetentionView[]> {
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
  const out: TopicRetentionView[] = [];
  for (const topic of [Topic.blockChanges, Topic.plog, Topic.dlog]) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const partition = partitionOfKey(String(dbid), offsets.length);
    const p = offsets.find((o) => o.partition === partition);
    if (!p) continue;
    const readers: TopicRetentionView['readers'] = [];
    for (const group of groups) {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const o = t?.partitions.find((x) => x.partition === partition);
      if (o && Number(o.offset) >= 0) readers.push({ group, offset: Number(o.offset) });
    }
    readers.sort((a, b) => a.offset - b.offset);
    out.push({ topic, partition, logStart: Number(p.low), end: Number(p.high), cutBy: CUT_BY[topic], readers });
  }
  return out;
}
