import { ErrorCode } from '../protocol/error-codes';
import type { DescribedGroup } from '../protocol/apis/describe-groups';
import type { JoinGroupProtocol, JoinGroupRequest, JoinGroupResponse } from '../protocol/apis/join-group';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/apis/sync-group';
import { GroupStore, type CommittedOffset, type GroupRecord } from '../storage/group-store';
import { EmbeddedKafkaError } from '../errors';

/**
 * Consumer-group coordinator, modelled on Kafka's GroupCoordinator (states Empty,
 * PreparingRebalance, CompletingRebalance, Stable, Dead). JoinGroup and SyncGroup calls are
 * parked as promises until the rebalance completes; member sessions expire on timers.
 * Time and member ids come from the options so tests can drive them.
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface CoordinatorOptions {
  /** Delay of a new group's first rebalance, letting several members join at once (Kafka: 3000). */
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly newMemberId: (clientId: string) => string;
  readonly log: (level: string, msg: string) => void;
  /** Wall clock (ms) for commit and rebalance timestamps (offsets retention). */
  readonly now: () => number;
}

interface Member {
  readonly id: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: JoinGroupProtocol[];
  assignment: Buffer;
  joinResolve?: (r: JoinGroupResponse) => void;
  syncResolve?: (r: SyncGroupResponse) => void;
  sessionTimer?: NodeJS.Timeout;
}

interface Group {
  readonly id: string;
  state: GroupState;
  generation: number;
  protocolType: string | null;
  protocol: string | null;
  leaderId: string | null;
  readonly members: Map<string, Member>;
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  readonly pending: Map<string, NodeJS.Timeout>;
  joinTimer?: NodeJS.Timeout;
  /** True while a new group's initial-rebalance delay runs. */
  delaying: boolean;
}

export interface JoinContext {
  readonly clientId: string;
  readonly clientHost: string;
  readonly version: number;
}

const EMPTY = Buffer.alloc(0);

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly store: GroupStore,
    private readonly opts: CoordinatorOptions,
  ) {}

  private getGroup(id: string, create: boolean): Group | undefined {
    let g = this.groups.get(id);
    if (!g && create) {
      const stored = this.store.group(id);
      g = {
        id,
        state: 'Empty',
        generation: stored?.generation ?? 0,
        protocolType: stored?.protocolType || null,
        protocol: stored?.protocol || null,
        leaderId: null,
        members: new Map(),
        pending: new Map(),
        delaying: false,
      };
      this.groups.set(id, g);
    }
    return g;
  }

  /** JoinGroup: resolves when the rebalance this join takes part in completes. */
  join(req: JoinGroupRequest, ctx: JoinContext): Promise<JoinGroupResponse> {
    const fail = (errorCode: number, memberId = req.memberId): Promise<JoinGroupResponse> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: '', leader: '', memberId, members: [] });
    if (req.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.opts.minSessionTimeoutMs || req.sessionTimeoutMs > this.opts.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const g = this.getGroup(req.groupId, true)!;
    if (!this.protocolsCompatible(g, req)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    if (req.memberId === '') {
      const id = this.opts.newMemberId(ctx.clientId);
      if (ctx.version >= 4) {
        // KIP-394: hand out the id first; the member must rejoin with it.
        const t = unrefTimeout(() => {
          g.pending.delete(id);
          this.tryCompleteJoin(g);
        }, req.sessionTimeoutMs);
        g.pending.set(id, t);
        return fail(ErrorCode.MEMBER_ID_REQUIRED, id);
      }
      return this.addMemberAndRebalance(g, id, req, ctx);
    }
    const pendingTimer = g.pending.get(req.memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      g.pending.delete(req.memberId);
      return this.addMemberAndRebalance(g, req.memberId, req, ctx);
    }
    const m = g.members.get(req.memberId);
    if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID);

    const changed = !sameProtocols(m.protocols, req.protocols);
    m.protocols = req.protocols;
    m.sessionTimeoutMs = req.sessionTimeoutMs;
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    m.clientId = ctx.clientId;
    m.clientHost = ctx.clientHost;
    switch (g.state) {
      case 'PreparingRebalance':
        return this.park(g, m);
      case 'CompletingRebalance':
        if (!changed) return Promise.resolve(this.joinResponse(g, m));
        return this.parkAndRebalance(g, m, 'member metadata changed');
      case 'Stable':
        if (changed || g.leaderId === m.id) return this.parkAndRebalance(g, m, `member ${m.id} rejoined`);
        return Promise.resolve(this.joinResponse(g, m));
      case 'Empty':
      case 'Dead':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      default:
        return assertNever(g.state);
    }
  }

  private protocolsCompatible(g: Group, req: JoinGroupRequest): boolean {
    if (req.protocolType === '' || req.protocols.length === 0) return false;
    if (g.members.size === 0) return true;
    if (g.protocolType !== null && g.protocolType !== req.protocolType) return false;
    const names = new Set(req.protocols.map((p) => p.name));
    for (const m of g.members.values()) {
      if (m.id === req.memberId) continue;
      if (!m.protocols.some((p) => names.has(p.name))) return false;
    }
    return true;
  }

  private addMemberAndRebalance(g: Group, id: string, req: JoinGroupRequest, ctx: JoinContext): Promise<JoinGroupResponse> {
    const m: Member = {
      id,
      groupInstanceId: req.groupInstanceId,
      clientId: ctx.clientId,
      clientHost: ctx.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
    };
    if (g.members.size === 0) g.protocolType = req.protocolType;
    g.members.set(id, m);
    if (g.leaderId === null) g.leaderId = id;
    return this.parkAndRebalance(g, m, `member ${id} joined`);
  }

  private park(g: Group, m: Member): Promise<JoinGroupResponse> {
    if (m.joinResolve) {
      // A member that re-sends JoinGroup while parked: the old request gets a retriable error.
      m.joinResolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, generationId: -1, protocolName: '', leader: '', memberId: m.id, members: [] });
    }
    this.clearSession(m);
    const p = new Promise<JoinGroupResponse>((resolve) => (m.joinResolve = resolve));
    this.tryCompleteJoin(g);
    return p;
  }

  private parkAndRebalance(g: Group, m: Member, reason: string): Promise<JoinGroupResponse> {
    this.prepareRebalance(g, reason);
    return this.park(g, m);
  }

  private prepareRebalance(g: Group, reason: string): void {
    if (g.state === 'PreparingRebalance') return;
    if (g.state === 'CompletingRebalance') {
      for (const m of g.members.values()) {
        if (m.syncResolve) {
          m.syncResolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
          m.syncResolve = undefined;
        }
      }
    }
    const wasEmpty = g.state === 'Empty';
    g.state = 'PreparingRebalance';
    this.opts.log('info', `group ${g.id}: preparing rebalance (${reason}), generation ${g.generation}`);
    if (wasEmpty && this.opts.initialRebalanceDelayMs > 0) {
      g.delaying = true;
      g.joinTimer = unrefTimeout(() => {
        g.delaying = false;
        g.joinTimer = unrefTimeout(() => this.onJoinTimeout(g), this.rebalanceTimeout(g));
        this.tryCompleteJoin(g);
      }, this.opts.initialRebalanceDelayMs);
    } else {
      g.joinTimer = unrefTimeout(() => this.onJoinTimeout(g), this.rebalanceTimeout(g));
    }
  }

  private rebalanceTimeout(g: Group): number {
    let t = 0;
    for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  private tryCompleteJoin(g: Group): void {
    if (g.state !== 'PreparingRebalance' || g.delaying) return;
    if (g.pending.size > 0) return;
    for (const m of g.members.values()) if (!m.joinResolve) return;
    this.completeJoin(g);
  }

  /** Rebalance timeout: members that did not rejoin are dropped, the rest proceed. */
  private onJoinTimeout(g: Group): void {
    if (g.state !== 'PreparingRebalance') return;
    for (const m of [...g.members.values()]) {
      if (!m.joinResolve) {
        this.opts.log('info', `group ${g.id}: member ${m.id} did not rejoin in time, removed`);
        this.dropMember(g, m);
      }
    }
    for (const t of g.pending.values()) clearTimeout(t);
    g.pending.clear();
    this.completeJoin(g);
  }

  private completeJoin(g: Group): void {
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.joinTimer = undefined;
    g.generation++;
    if (g.members.size === 0) {
      g.state = 'Empty';
      g.leaderId = null;
      g.protocol = null;
      this.persistMeta(g);
      return;
    }
    g.protocol = this.selectProtocol(g);
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value!;
    g.state = 'CompletingRebalance';
    this.persistMeta(g);
    this.opts.log('info', `group ${g.id}: generation ${g.generation} with ${g.members.size} member(s), leader ${g.leaderId}`);
    for (const m of g.members.values()) {
      const resolve = m.joinResolve;
      m.joinResolve = undefined;
      m.assignment = EMPTY;
      this.resetSession(g, m);
      resolve?.(this.joinResponse(g, m));
    }
  }

  private joinResponse(g: Group, m: Member): JoinGroupResponse {
    const isLeader = g.leaderId === m.id;
    return {
      errorCode: ErrorCode.NONE,
      generationId: g.generation,
      protocolName: g.protocol ?? '',
      leader: g.leaderId ?? '',
      memberId: m.id,
      members: isLeader
        ? [...g.members.values()].map((x) => ({
            memberId: x.id,
            groupInstanceId: x.groupInstanceId,
            metadata: x.protocols.find((p) => p.name === g.protocol)?.metadata ?? EMPTY,
          }))
        : [],
    };
  }

  /** Each member votes for its most preferred protocol that all members support. */
  private selectProtocol(g: Group): string {
    const members = [...g.members.values()];
    const candidates = members[0].protocols.map((p) => p.name).filter((n) => members.every((m) => m.protocols.some((p) => p.name === n)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => candidates.includes(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = candidates[0];
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }

  private persistMeta(g: Group): void {
    this.store.append([{ t: 'meta', g: g.id, gen: g.generation, protocolType: g.protocolType ?? '', protocol: g.protocol ?? '', ts: this.opts.now() }]);
  }

  /** SyncGroup: followers wait for the leader's assignment. */
  sync(req: SyncGroupRequest): Promise<SyncGroupResponse> {
    const fail = (errorCode: number) => Promise.resolve({ errorCode, assignment: EMPTY });
    const g = this.groups.get(req.groupId);
    const m = g?.members.get(req.memberId);
    if (!g || !m) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (req.generationId !== g.generation) return fail(ErrorCode.ILLEGAL_GENERATION);
    switch (g.state) {
      case 'Empty':
      case 'Dead':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        this.resetSession(g, m);
        return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: m.assignment });
      case 'CompletingRebalance': {
        this.resetSession(g, m);
        const p = new Promise<SyncGroupResponse>((resolve) => (m.syncResolve = resolve));
        if (g.leaderId === m.id) {
          const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
          for (const x of g.members.values()) x.assignment = given.get(x.id) ?? EMPTY;
          g.state = 'Stable';
          for (const x of g.members.values()) {
            const resolve = x.syncResolve;
            x.syncResolve = undefined;
            resolve?.({ errorCode: ErrorCode.NONE, assignment: x.assignment });
          }
        }
        return p;
      }
      default:
        return assertNever(g.state);
    }
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    const g = this.groups.get(groupId);
    const m = g?.members.get(memberId);
    if (!g || !m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    switch (g.state) {
      case 'Empty':
      case 'Dead':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.resetSession(g, m);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        this.resetSession(g, m);
        return ErrorCode.NONE;
      default:
        return assertNever(g.state);
    }
  }

  /** LeaveGroup for one member; returns its error code. */
  leave(groupId: string, memberId: string): number {
    const g = this.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    const pendingTimer = g.pending.get(memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      g.pending.delete(memberId);
      this.tryCompleteJoin(g);
      return ErrorCode.NONE;
    }
    const m = g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.opts.log('info', `group ${g.id}: member ${memberId} left`);
    this.removeMemberAndRebalance(g, m, `member ${memberId} left`);
    return ErrorCode.NONE;
  }

  private dropMember(g: Group, m: Member): void {
    this.clearSession(m);
    g.members.delete(m.id);
    if (m.joinResolve) {
      m.joinResolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolName: '', leader: '', memberId: m.id, members: [] });
      m.joinResolve = undefined;
    }
    if (m.syncResolve) {
      m.syncResolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
      m.syncResolve = undefined;
    }
    if (g.leaderId === m.id) g.leaderId = g.members.keys().next().value ?? null;
  }

  private removeMemberAndRebalance(g: Group, m: Member, reason: string): void {
    this.dropMember(g, m);
    switch (g.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(g, reason);
        this.tryCompleteJoin(g);
        return;
      case 'PreparingRebalance':
        this.tryCompleteJoin(g);
        return;
      case 'Empty':
      case 'Dead':
        return;
      default:
        assertNever(g.state);
    }
  }

  private clearSession(m: Member): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = undefined;
  }

  private resetSession(g: Group, m: Member): void {
    this.clearSession(m);
    m.sessionTimer = unrefTimeout(() => this.onSessionTimeout(g, m), m.sessionTimeoutMs);
  }

  private onSessionTimeout(g: Group, m: Member): void {
    if (g.members.get(m.id) !== m) return;
    if (m.joinResolve || m.syncResolve) {
      this.resetSession(g, m); // never expire a member that has a request parked
      return;
    }
    this.opts.log('info', `group ${g.id}: member ${m.id} session expired`);
    this.removeMemberAndRebalance(g, m, `member ${m.id} session timeout`);
  }

  /** OffsetCommit validation (Kafka validateOffsetCommit); returns an error code for the whole request. */
  validateCommit(groupId: string, memberId: string, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const g = this.groups.get(groupId);
    if (generationId < 0 && memberId === '') {
      // Standalone commit (admin or a consumer without group management).
      return !g || g.members.size === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    }
    const m = g?.members.get(memberId);
    if (!g || !m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generation) return ErrorCode.ILLEGAL_GENERATION;
    if (g.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    this.resetSession(g, m);
    return ErrorCode.NONE;
  }

  /** Records committed offsets (written to the journal; durability is the caller's flush). */
  commit(groupId: string, offsets: { topic: string; partition: number; offset: number; metadata: string | null }[]): void {
    const recs: GroupRecord[] = [];
    const ts = this.opts.now();
    if (!this.store.group(groupId)) {
      const live = this.groups.get(groupId);
      recs.push({ t: 'meta', g: groupId, gen: live?.generation ?? 0, protocolType: live?.protocolType ?? '', protocol: live?.protocol ?? '', ts });
    }
    for (const o of offsets) recs.push({ t: 'offset', g: groupId, topic: o.topic, p: o.partition, o: o.offset, m: o.metadata, ts });
    this.store.append(recs);
  }

  committed(groupId: string): Map<string, Map<number, CommittedOffset>> {
    return this.store.group(groupId)?.offsets ?? new Map();
  }

  describe(groupId: string): DescribedGroup {
    const g = this.groups.get(groupId);
    const stored = this.store.group(groupId);
    if (!g) {
      return { errorCode: 0, groupId, state: stored ? 'Empty' : 'Dead', protocolType: stored?.protocolType ?? '', protocol: '', members: [] };
    }
    const stable = g.state === 'Stable';
    return {
      errorCode: 0,
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? stored?.protocolType ?? '',
      protocol: g.state === 'Empty' ? '' : (g.protocol ?? ''),
      members: [...g.members.values()].map((m) => ({
        memberId: m.id,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? (m.protocols.find((p) => p.name === g.protocol)?.metadata ?? EMPTY) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): { groupId: string; protocolType: string }[] {
    const out = new Map<string, string>();
    for (const [id, s] of this.store.groups) out.set(id, s.protocolType);
    for (const [id, g] of this.groups) if (g.state !== 'Dead') out.set(id, g.protocolType ?? out.get(id) ?? '');
    return [...out].map(([groupId, protocolType]) => ({ groupId, protocolType }));
  }

  deleteGroup(groupId: string): number {
    const g = this.groups.get(groupId);
    if (!g && !this.store.group(groupId)) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g && (g.members.size > 0 || g.state !== 'Empty')) return ErrorCode.NON_EMPTY_GROUP;
    if (g) {
      for (const t of g.pending.values()) clearTimeout(t);
      g.state = 'Dead';
      this.groups.delete(groupId);
    }
    this.store.append([{ t: 'delete-group', g: groupId }]);
    return ErrorCode.NONE;
  }

  /**
   * Offsets retention (Kafka's offsets.retention.minutes, KIP-211): a group with no members
   * whose last activity (last commit, last rebalance, becoming Empty) is at least `retentionMs`
   * old loses its committed offsets and disappears (ListGroups, DescribeGroups: Dead). Groups
   * with members never expire, however old their commits. Returns the expired group ids.
   */
  expireOffsets(nowMs: number, retentionMs: number): string[] {
    const expired: string[] = [];
    for (const [id, stored] of this.store.groups) {
      const live = this.groups.get(id);
      if (live && (live.state !== 'Empty' || live.members.size > 0 || live.pending.size > 0)) continue;
      if (nowMs - GroupStore.lastActivity(stored) < retentionMs) continue;
      expired.push(id);
    }
    if (expired.length === 0) return expired;
    this.store.append(expired.map((g): GroupRecord => ({ t: 'delete-group', g })));
    for (const id of expired) {
      const live = this.groups.get(id);
      if (live) for (const t of live.pending.values()) clearTimeout(t);
      this.groups.delete(id);
    }
    return expired;
  }

  close(): void {
    for (const g of this.groups.values()) {
      if (g.joinTimer) clearTimeout(g.joinTimer);
      for (const t of g.pending.values()) clearTimeout(t);
      for (const m of g.members.values()) this.clearSession(m);
    }
    this.groups.clear();
  }
}

function sameProtocols(a: readonly JoinGroupProtocol[], b: readonly JoinGroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}

function assertNever(x: never): never {
  throw new EmbeddedKafkaError('ILLEGAL_STATE', `unexpected group state ${String(x)}`);
}

/**
 * Group timers never keep the process alive on their own (the listening socket does), and a
 * fault inside one (e.g. the journal cannot be written) is reported, never crashes the broker.
 */
function unrefTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => {
    try {
      fn();
    } catch (e) {
      process.stderr.write(`[embedded-kafka] error: group timer: ${(e as Error)?.stack ?? String(e)}\n`);
    }
  }, ms).unref();
}
