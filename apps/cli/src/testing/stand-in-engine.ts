/**
 * Stand-ins for `dsf`'s integration tests, over the real broker and a real HTTP server (no mock
 * of Kafka): a responder that consumes dsf.commands and publishes, on dsf.events, the events the
 * test's script gives for each command (what the merge engine, save writer or DSIM builder would
 * answer); and a catalog answering fixed JSON per path.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { TopicReader } from '@deltaflow/service-kit';
import { Publisher } from '@deltaflow/testing';

export type DsfCommandMessage = TopicMessage<'dsf.commands'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An answer without the fields the responder fills in (correlationId, dbid, occurredAt). */
export type Answer = DistributiveOmit<TopicMessage<'dsf.events'>, 'correlationId' | 'dbid' | 'occurredAt'>;

export class StandInResponder {
  /** every command received, in order */
  readonly received: DsfCommandMessage[] = [];
  private reader?: TopicReader<DsfCommandMessage>;
  private publisher?: Publisher;

  /** `script` answers a command with events (sent in order, a few ms apart), or nothing (silence). */
  constructor(
    private readonly brokers: string[],
    private readonly script: (c: DsfCommandMessage) => Answer[] | undefined,
  ) {}

  async start(): Promise<this> {
    this.publisher = await new Publisher(this.brokers).start();
    this.reader = new TopicReader<DsfCommandMessage>({
      brokers: this.brokers,
      clientId: 'stand-in-responder',
      topics: [Topic.dsfCommands],
      from: 'latest',
      onMessage: async (c) => {
        this.received.push(c);
        for (const a of this.script(c) ?? []) {
          await new Promise((r) => setTimeout(r, 5));
          await this.publisher!.publish({ ...a, correlationId: c.correlationId, dbid: c.dbid, occurredAt: Date.now() } as AnyMessage);
        }
      },
    });
    await this.reader.start();
    return this;
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
    await this.publisher?.stop();
  }
}

/** A catalog stand-in: `routes['/report?dbid=1'] = [status, body]`; anything else is 404. */
export async function startStandInCatalog(routes: Record<string, [number, unknown]>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const [status, body] = routes[req.url ?? ''] ?? [404, { statusCode: 404, message: `Cannot GET ${req.url}` }];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
