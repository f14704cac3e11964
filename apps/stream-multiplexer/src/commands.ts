/**
 * sov.commands in the multiplexer (the seed's SOVADM requests and the writers' client file
 * lifecycle): stream and device definitions, client file open / close / abort / expire. Every
 * state change is the stream decider's; an answer settles its record once what it decided is
 * durable (an open: its open record on a volume) or published.
 */
import { randomBytes } from 'node:crypto';
import { type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { RejectedRecord } from '@deltaflow/service-kit';
import { codecSpec, SovRejectedError, SuperblockCodec, type OpenRecord } from '@deltaflow/tape';
import type { StreamMultiplexerService } from './multiplexer.service';
import { ClientFileRuntime, Deferred } from './runtime/client-file';
import { TAKEN, type Admission } from './spool/spool-server';

type SovCommandMessage = TopicMessage<'sov.commands'>;

export class SovCommands {
  constructor(private readonly mux: StreamMultiplexerService) {}

  async handle(c: SovCommandMessage): Promise<Admission> {
    const at = this.mux.now();
    switch (c.type) {
      case 'StreamDefine': {
        const { type: _t, stream, correlationId: _c, ...settings } = c;
        const done = this.mux.decideAndPublish({ type: 'DefineStream', stream, settings, defaults: this.mux.config.streamDefaults, operatorKey: !!this.mux.config.operatorKey, at });
        // its StreamDefine came on a partition this instance owns: it serves the stream
        if (!this.mux.served.has(stream)) await this.mux.serveNew(stream);
        await this.mux.ensureDevices(stream);
        this.mux.startDevices();
        this.mux.adoptOrphans(stream);
        return { taken: true, done };
      }
      case 'DeviceAdd': {
        const done = this.mux.decideAndPublish({ type: 'AddDevice', stream: c.stream, device: c.device, ...(c.rateBytesPerSec ? { rateBytesPerSec: c.rateBytesPerSec } : {}), at });
        await this.mux.ensureDevices(c.stream);
        this.mux.startDevices();
        this.mux.adoptOrphans(c.stream);
        return { taken: true, done };
      }
      case 'DeviceRemove': {
        const d = this.mux.devices.get(`${c.stream}/${c.device}`);
        if (!d) return { taken: true, done: this.mux.decideAndPublish({ type: 'RemoveDevice', stream: c.stream, device: c.device, reason: 'removed by the operator', at }) };
        d.draining ??= { reason: 'removed by the operator', done: new Deferred(), operator: true };
        d.wake();
        return { taken: true, done: d.draining.done.promise.then(() => void this.mux.devices.delete(d.key)) };
      }
      case 'ClientFileOpen':
        return this.openFile(c, at);
      case 'ClientFileClose': {
        const f = this.mux.files.get(c.incarnation);
        if (!f) {
          const s = this.mux.state.files.get(c.incarnation);
          if (s?.status === 'closed' && s.close?.sha256 === c.sha256 && s.placed === c.superblocks) return TAKEN; // a redelivery
          if (s?.status === 'aborted') throw new SovRejectedError('CLIENT_FILE_ABORTED', `client file ${c.clientFile} (${c.incarnation}) was aborted: ${s.abort?.reason ?? ''}`, 'incarnation');
          throw new SovRejectedError(s ? 'CLIENT_FILE_CLOSED' : 'UNKNOWN_CLIENT_FILE', `no open client file ${c.stream}/${c.clientFile} with incarnation ${c.incarnation}`, 'incarnation');
        }
        if (f.clientFile !== c.clientFile || f.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${f.stream}/${f.clientFile}`, 'incarnation');
        if (f.closeRequest) return { taken: true, done: f.closeRequest.done.promise };
        if (f.next > c.superblocks) {
          this.mux.abort(f, `the close says ${c.superblocks} superblocks, ${f.next} arrived`);
          throw new SovRejectedError('CONFLICT', `close of ${c.clientFile}: ${c.superblocks} superblocks, ${f.next} arrived; the client file is aborted`, 'superblocks');
        }
        f.closeRequest = { superblocks: c.superblocks, bytes: c.bytes, sha256: c.sha256, done: new Deferred() };
        if (!f.device) this.mux.assignDevice(f);
        f.device?.wake();
        return { taken: true, done: f.closeRequest.done.promise };
      }
      case 'ClientFileAbort': {
        const f = this.mux.files.get(c.incarnation);
        if (!f) {
          if (this.mux.state.files.get(c.incarnation)?.status === 'aborted') return TAKEN;
          throw new SovRejectedError('UNKNOWN_CLIENT_FILE', `no open client file ${c.stream}/${c.clientFile} with incarnation ${c.incarnation}`, 'incarnation');
        }
        return { taken: true, done: this.mux.abort(f, c.reason) };
      }
      case 'ClientFileExpire': {
        const events = await this.mux.decideAndPublishEvents({ type: 'Expire', incarnation: c.incarnation, at });
        for (const e of events) if (e.type === 'VolumeScratched') await this.mux.scratch(e.volser);
        return TAKEN;
      }
      case 'VolumeVerify': {
        this.mux.decide({ type: 'CheckStream', stream: c.stream });
        return { taken: true, done: this.mux.verifier.volume(c.stream, c.volser, 'operator', c.correlationId).then(() => undefined) };
      }
      case 'ClientFileVerify': {
        this.mux.decide({ type: 'CheckStream', stream: c.stream });
        return { taken: true, done: this.mux.verifier.clientFile(c.stream, c.clientFile, c.incarnation, 'operator', c.correlationId).then(() => undefined) };
      }
      case 'VolumeReclaim': {
        this.mux.decide({ type: 'CheckStream', stream: c.stream });
        await this.mux.ensureDevices(c.stream);
        this.mux.startDevices();
        return { taken: true, done: this.mux.reclaimer.reclaim(c.stream, c.thresholdPercent, c.dryRun === true, c.correlationId).then(() => undefined) };
      }
      default: {
        const never: never = c;
        throw new RejectedRecord('UNKNOWN_TYPE', `unexpected command ${JSON.stringify(never).slice(0, 100)}`);
      }
    }
  }


  private async openFile(c: MessageOfType<'ClientFileOpen'>, at: number): Promise<Admission> {
    const existing = this.mux.files.get(c.incarnation);
    if (existing) {
      if (existing.clientFile !== c.clientFile || existing.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${existing.stream}/${existing.clientFile}`, 'incarnation');
      return { taken: true, done: existing.opened.promise };
    }
    const known = this.mux.state.files.get(c.incarnation);
    if (known) {
      if (known.clientFile !== c.clientFile || known.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${known.stream}/${known.clientFile}`, 'incarnation');
      return TAKEN; // a redelivery: its open record is on a volume already
    }
    const s = this.mux.state.streams.get(c.stream);
    if (!s) throw new SovRejectedError('UNKNOWN_STREAM', `stream ${c.stream} is not defined (send StreamDefine first)`, 'stream');
    const compression = c.compression ?? s.settings.compression;
    const encryption = c.encryption ?? s.settings.encryption;
    if (encryption !== 'none' && !this.mux.config.operatorKey) throw new SovRejectedError('NO_OPERATOR_KEY', 'encryption asked, but the multiplexer has no operator key (SOV_OPERATOR_KEY_FILE)', 'encryption');
    const open: OpenRecord = {
      incarnation: c.incarnation,
      clientFile: c.clientFile,
      stream: c.stream,
      ...(c.dbid !== undefined ? { dbid: c.dbid } : {}),
      ...(c.dsid !== undefined ? { dsid: c.dsid } : {}),
      ...(c.kind !== undefined ? { kind: c.kind } : {}),
      ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      openedAt: at,
      codec: codecSpec({ compression, ...(encryption !== 'none' ? { operatorKey: this.mux.config.operatorKey, dataKey: randomBytes(32) } : {}) }),
    };
    this.mux.decide({ type: 'CheckOpen', open });
    // A name reused while its previous incarnation is still open (a writer that crashed and
    // retries): the previous one is given up, so old and new never mix.
    for (const other of this.mux.files.values())
      if (other.stream === c.stream && other.clientFile === c.clientFile && !other.abortRequest) this.mux.abort(other, `superseded by incarnation ${c.incarnation}`);
    const f = new ClientFileRuntime(open, SuperblockCodec.open(open, this.mux.config.operatorKey), { superblocks: 0, bytes: 0, last: false }, true);
    this.mux.files.set(c.incarnation, f);
    this.mux.assignDevice(f);
    this.mux.admission.unpark(f);
    return { taken: true, done: f.opened.promise };
  }
}
