import { Kafka, logLevel, type Consumer, type EachMessagePayload, type KafkaConfig } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** A broker under test: the embedded one or a real Kafka. */
export interface KafkaUnderTest {
  readonly brokers: string[];
  stop(): Promise<void>;
}

let seq = 0;
/** A topic or group name no other test uses. */
export function uniqueName(prefix: string): string {
  seq++;
  return `${prefix}-${process.pid}-${seq}-${Date.now().toString(36)}`;
}

export function client(brokers: string[], extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({ brokers, clientId: 'conformance', logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 }, ...extra });
}

/** Short timeouts so rebalances in tests take seconds, not minutes. */
export const FAST_GROUP = { sessionTimeout: 6000, rebalanceTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 500 } as const;

export interface Received {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

function toReceived(p: EachMessagePayload): Received {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.message.headers ?? {})) headers[k] = String(v);
  return { partition: p.partition, offset: p.message.offset, key: p.message.key?.toString() ?? null, value: p.message.value ?? Buffer.alloc(0), headers };
}

/** Runs a consumer until `until(received)` holds, then disconnects it. */
export async function consumeUntil(
  kafka: Kafka,
  opts: { groupId: string; topic: string; fromBeginning?: boolean; timeoutMs?: number },
  until: (got: Received[]) => boolean,
  onStarted?: (c: Consumer) => Promise<void> | void,
): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: opts.groupId, ...FAST_GROUP });
  const got: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} message(s) received`)), opts.timeoutMs ?? 30000);
      consumer
        .run({
          eachMessage: async (p) => {
            got.push(toReceived(p));
            if (until(got)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .then(() => onStarted?.(consumer))
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** Polls `check` until it returns true (or throws after the timeout). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 20000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
