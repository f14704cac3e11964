/**
 * Which streams this multiplexer instance serves. sov.superblocks and sov.commands are keyed by
 * stream and assigned co-partitioned, so a partition index stands for the streams whose name
 * hashes there, on both topics. On every assignment (before the spool delivers a record of it):
 *
 * - a stream whose partition was lost is released: its devices stop, sync what they wrote and
 *   publish its placements, its client files and waiting superblocks are forgotten (the next
 *   server reads them again from the committed offset), then StreamReleased;
 * - the streams of a partition gained are served once no other live instance serves them (the
 *   stream decider's last StreamServed, @deltaflow/tape `servingVerdict`): the previous server
 *   released them, or it left the group (killed: its volumes are reconciled from what they hold).
 *   Their state comes from sov.events, their unfinished volumes are reconciled, their devices and
 *   open client files resume, then StreamServed.
 *
 * A stream defined later is served by the instance that receives its StreamDefine (the owner of
 * its partition). Volsers come from one pool: a volume file is created exclusively, so two
 * instances never label the same volser.
 */
import { partitionOfKey, type AssignmentChange } from '@deltaflow/service-kit';
import { servingVerdict, SuperblockCodec, type SovState } from '@deltaflow/tape';
import { Topic } from '@deltaflow/contracts';
import type { StreamMultiplexerService } from './multiplexer.service';
import { ClientFileRuntime } from './runtime/client-file';

const WAIT_MS = 200;

export class StreamServing {
  private partitions = 1;

  constructor(private readonly mux: StreamMultiplexerService) {}

  /** The partition of sov.superblocks (and sov.commands) a stream's records go to. */
  partitionOf(stream: string): number {
    return partitionOfKey(stream, this.partitions);
  }

  async onAssignment(change: AssignmentChange): Promise<void> {
    const mux = this.mux;
    const meta = await mux.kafkaAdmin().fetchTopicMetadata({ topics: [Topic.sovSuperblocks] });
    this.partitions = Math.max(1, meta.topics[0]?.partitions.length ?? 1);
    for (const s of [...mux.served]) if (!change.indices.has(this.partitionOf(s))) await this.release(s, 'its partition moved to another instance');

    let { state, scratched } = await mux.foldEvents();
    const gained = (st: SovState) => [...st.streams.keys()].filter((s) => change.indices.has(this.partitionOf(s)) && !mux.served.has(s));
    for (let round = 0; ; round++) {
      const live = await mux.assignments.liveInstances();
      const held = gained(state)
        .map((s) => ({ s, v: servingVerdict(state, s, mux.instanceId, live) }))
        .filter((x) => !x.v.serve);
      if (!held.length) break;
      if (round % 25 === 0) mux.log(`waiting to serve ${held.map((x) => `${x.s} (served by ${'holder' in x.v ? x.v.holder : '?'})`).join(', ')} until it is released or its server leaves the group`);
      await new Promise((r) => setTimeout(r, WAIT_MS));
      ({ state, scratched } = await mux.foldEvents());
    }
    const streams = new Set(gained(state));
    mux.adoptState(state, () => true);
    if (streams.size) await this.serve(streams, scratched);
    await mux.admission.noteCommandsFrom(change.gained, mux.groupId);
    mux.log(
      `serving ${mux.served.size ? [...mux.served].sort().join(', ') : 'no stream'} (partitions ${[...change.indices].sort((a, b) => a - b).join(',') || 'none'} of ${this.partitions}); ${mux.devices.size} devices, ${mux.files.size} open client files, ${mux.state.volumes.size} volumes known`,
    );
  }

  /** Starts serving streams whose state was just taken from sov.events. */
  private async serve(streams: ReadonlySet<string>, scratched: ReadonlySet<string>): Promise<void> {
    const mux = this.mux;
    await mux.reconcileLibrary(streams, scratched);
    await mux.drainOutbox();
    for (const s of streams) await mux.ensureDevices(s);
    for (const f of mux.state.files.values()) {
      if (!streams.has(f.stream) || f.status !== 'open' || mux.files.has(f.incarnation)) continue;
      let codec: SuperblockCodec;
      try {
        codec = SuperblockCodec.open(f.open, mux.config.operatorKey);
      } catch (e) {
        mux.alert(`client file ${f.clientFile} (${f.incarnation}) cannot be continued: ${(e as Error).message}`);
        continue;
      }
      const rt = new ClientFileRuntime(f.open, codec, { superblocks: f.placed, bytes: f.bytes, last: f.last }, false);
      mux.files.set(f.incarnation, rt);
      const d = f.device ? mux.devices.get(`${f.stream}/${f.device}`) : undefined;
      if (d && !d.failed && !d.draining) {
        rt.device = d;
        d.files.add(rt);
      } else mux.assignDevice(rt);
    }
    for (const s of streams) await this.markServed(s);
    mux.startDevices();
  }

  /** This instance serves `stream` from now (a stream just defined here, or taken over). */
  async markServed(stream: string): Promise<void> {
    this.mux.served.add(stream);
    await this.mux.decideAndPublish({ type: 'ServeStream', stream, instance: this.mux.instanceId, at: this.mux.now() });
  }

  /** Stops serving `stream`: what its devices wrote is synced and placed, the rest is left to the next server. */
  async release(stream: string, why: string): Promise<void> {
    const mux = this.mux;
    for (const d of [...mux.devices.values()].filter((x) => x.stream === stream)) {
      await d.stop();
      if (!d.failed) await d.flush().catch((e) => mux.log(`device ${d.key}: final sync failed: ${(e as Error).message}`));
      await d.device.unmount().catch(() => undefined);
      mux.devices.delete(d.key);
    }
    for (const f of [...mux.files.values()].filter((x) => x.stream === stream)) mux.forget(f);
    mux.admission.dropStream(stream);
    mux.served.delete(stream);
    await mux.decideAndPublish({ type: 'ReleaseStream', stream, instance: mux.instanceId, at: mux.now() });
    mux.log(`stream ${stream} released: ${why}`);
  }
}
