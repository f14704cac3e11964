/**
 * The multiplexer's outbox: the stream decider's events are folded into the state the moment they
 * are decided and published here afterwards, in decision order (what is queued while a request is
 * in flight goes out coalesced in the next one), retried until Kafka takes them. `after` runs once
 * an entry's events are acknowledged (a placement is settled only then).
 */
import { ContractError, encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import type { EventPublisher } from '@deltaflow/service-kit';
import type { SovEvent } from '@deltaflow/tape';
import { Deferred } from './runtime/client-file';

export interface OutboxHost {
  log(msg: string): void;
  alert(msg: string): void;
  /** true once the service stops: a failed request is not retried then */
  readonly closed: boolean;
}

export class SovOutbox {
  private readonly entries: Array<{ events: readonly SovEvent[]; after?: () => void; done: Deferred }> = [];
  private pumping = false;

  constructor(
    private readonly publisher: () => EventPublisher<AnyMessage>,
    private readonly host: OutboxHost,
  ) {}

  enqueue(events: readonly SovEvent[], after?: () => void): Promise<void> {
    const done = new Deferred();
    this.entries.push({ events, after, done });
    void this.pump();
    return done.promise;
  }

  /** Resolves once everything queued so far is published. */
  async drain(): Promise<void> {
    while (this.entries.length || this.pumping) await new Promise((r) => setTimeout(r, 5));
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.entries.length) {
        const batch = this.entries.splice(0, this.entries.length);
        const records = [];
        for (const e of batch.flatMap((b) => b.events)) {
          try {
            records.push(encodeMessage(e as AnyMessage));
          } catch (err) {
            if (!(err instanceof ContractError)) throw err;
            this.host.alert(`event ${e.type} does not fit its contract and is not published: ${err.message}`);
          }
        }
        for (let attempt = 0; records.length; attempt++) {
          try {
            await this.publisher().publishEncoded(records.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: { ...r.headers } })));
            break;
          } catch (err) {
            if (this.host.closed) throw err;
            this.host.log(`publishing ${records.length} events failed (retrying): ${(err as Error).message}`);
            await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
          }
        }
        for (const b of batch) {
          try {
            b.after?.();
          } catch (err) {
            this.host.log(`after publishing: ${(err as Error).message}`);
          }
          b.done.resolve();
        }
      }
    } catch (err) {
      for (const b of this.entries.splice(0)) b.done.reject(err);
    } finally {
      this.pumping = false;
    }
  }
}
