/**
 * Co-partitioned, sticky assignment of a consumer group's partitions (a kafkajs PartitionAssigner).
 *
 * Every Deltaflow topic of one database is keyed by its dbid with the same partitioner, so with
 * equal partition counts a database lives at the same partition index of every topic. This
 * assigner gives each member whole indices: partition i of every subscribed topic goes to the same
 * member, so one instance of a service sees all of one database (its block changes, commands,
 * events, DLOG, PLOG) and the per-database state it keeps is complete. Kafka Streams assigns
 * co-partitioned tasks the same way; kafkajs's round robin scatters partitions of one index over
 * members.
 *
 * Sticky: each member states the indices it owns in its subscription's user data, and keeps them
 * when the group changes, as far as a balanced share allows (members differ by at most one index).
 * A rebalance after one member joins or leaves therefore moves only the indices that must move,
 * and only their state is rebuilt.
 *
 * Every instance of a service must speak this protocol (PROTOCOL_NAME): a group whose members
 * support no common protocol is refused by the broker (INCONSISTENT_GROUP_PROTOCOL).
 */
import { AssignerProtocol, type GroupMember, type GroupMemberAssignment, type PartitionAssigner } from 'kafkajs';

export const PROTOCOL_NAME = 'DeltaflowCoPartitioned';
const VERSION = 1;

/** What one member brings to an assignment: its id and the partition indices it owns now. */
export interface MemberClaim {
  readonly memberId: string;
  readonly owned: readonly number[];
}

/**
 * The pure plan: indices 0..count-1 over the members, balanced (sizes differ by at most one),
 * keeping as many current owners as the balance allows. Members are taken in id order, so every
 * leader computes the same plan from the same input.
 */
export function planIndices(members: readonly MemberClaim[], count: number): Map<string, number[]> {
  const plan = new Map<string, number[]>();
  if (members.length === 0) return plan;
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const floor = Math.floor(count / sorted.length);
  let ceilings = count % sorted.length; // how many members may hold floor + 1
  // a claim counts once (first claimant in id order) and only for indices that exist
  const taken = new Set<number>();
  const claims = new Map<string, number[]>();
  for (const m of sorted) {
    const own = [...new Set(m.owned)].filter((i) => Number.isInteger(i) && i >= 0 && i < count && !taken.has(i)).sort((a, b) => a - b);
    for (const i of own) taken.add(i);
    claims.set(m.memberId, own);
  }
  // members that owned most keep most: they get the floor + 1 places first
  const byClaim = [...sorted].sort((a, b) => claims.get(b.memberId)!.length - claims.get(a.memberId)!.length);
  const quota = new Map<string, number>();
  for (const m of byClaim) {
    const q = floor + (ceilings > 0 && claims.get(m.memberId)!.length > floor ? 1 : 0);
    if (q > floor) ceilings--;
    quota.set(m.memberId, q);
  }
  // the remaining floor + 1 places go to the first members in id order
  for (const m of sorted) {
    if (ceilings === 0) break;
    if (quota.get(m.memberId) === floor) {
      quota.set(m.memberId, floor + 1);
      ceilings--;
    }
  }
  const free: number[] = [];
  const kept = new Set<number>();
  for (const m of sorted) {
    const keep = claims.get(m.memberId)!.slice(0, quota.get(m.memberId));
    for (const i of keep) kept.add(i);
    plan.set(m.memberId, keep);
  }
  for (let i = 0; i < count; i++) if (!kept.has(i)) free.push(i);
  for (const m of sorted) {
    const mine = plan.get(m.memberId)!;
    while (mine.length < quota.get(m.memberId)!) mine.push(free.shift()!);
    mine.sort((a, b) => a - b);
  }
  return plan;
}

/** The indices this member owns, as the assigner reads them from its subscription. */
export interface OwnedIndices {
  current(): readonly number[];
}

/**
 * The kafkajs assigner. `owned` tells which indices this member holds now (the transport keeps it
 * up to date from each assignment); `warn` hears about topics with unequal partition counts, where
 * one database no longer lives at one index (each index is still assigned whole).
 */
export function coPartitionedAssigner(owned: OwnedIndices, warn: (msg: string) => void = () => undefined): PartitionAssigner {
  return ({ cluster }) => ({
    name: PROTOCOL_NAME,
    version: VERSION,
    async assign({ members, topics }: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]> {
      const counts = new Map<string, number>();
      for (const t of topics) counts.set(t, cluster.findTopicPartitionMetadata(t).length);
      const distinct = new Set(counts.values());
      if (distinct.size > 1) warn(`co-partitioned topics have different partition counts (${[...counts].map(([t, n]) => `${t}: ${n}`).join(', ')}): one database may be split over two instances; create them with the same count`);
      const count = Math.max(0, ...counts.values());
      const plan = planIndices(
        members.map((m) => ({ memberId: m.memberId, owned: decodeOwned(m.memberMetadata) })),
        count,
      );
      return members.map((m) => {
        const indices = plan.get(m.memberId) ?? [];
        const assignment: Record<string, number[]> = {};
        for (const [t, n] of counts) {
          const mine = indices.filter((i) => i < n);
          if (mine.length > 0) assignment[t] = mine;
        }
        return { memberId: m.memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment, userData: Buffer.alloc(0) }) };
      });
    },
    protocol({ topics }: { topics: string[] }) {
      return {
        name: PROTOCOL_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.from(JSON.stringify({ owned: owned.current() })) }),
      };
    },
  });
}

function decodeOwned(metadata: Buffer): number[] {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata) as { userData: Buffer };
    const parsed = JSON.parse(userData.toString('utf8')) as { owned?: unknown };
    return Array.isArray(parsed.owned) ? parsed.owned.filter((i): i is number => Number.isInteger(i)) : [];
  } catch {
    return []; // a member without (readable) claims owns nothing yet
  }
}
