import { CommandRejected, DeadLetter, encodeMessage } from '@deltaflow/contracts';
import { asOfQueryOf } from './console.controller';
import { EventTail, type ChangeNotice } from './event-tail';

const value = (m: Parameters<typeof encodeMessage>[0]) => Buffer.from(encodeMessage(m).value as Uint8Array);

describe('the console\'s Kafka tail (records handed in as kafkajs delivers them)', () => {
  it('keeps each rejection and dead letter once however often it is delivered, newest first, and tells "changed" once per burst', async () => {
    const tail = new EventTail({ brokers: ['unused:9092'], noticeMs: 20 });
    const notices: ChangeNotice[] = [];
    tail.onChange((n) => notices.push(n));
    const rejected = value(CommandRejected.create({ correlationId: 'm-1', dbid: 1, commandType: 'MergeRequested', code: 'MERGE_INPUT_INVALID', reason: 'online save needs its DSIM', rule: 'ONLINE_SAVE_NEEDS_DSIM', occurredAt: 2000 }));
    const later = value(CommandRejected.create({ correlationId: 'm-2', dbid: 1, commandType: 'MergeRequested', code: 'MERGE_INPUT_INVALID', reason: 'later', occurredAt: 3000 }));
    const dead = value(
      DeadLetter.create({ sourceTopic: 'dsf.events', partition: 2, offset: '17', consumerGroup: 'deltaflow.catalog', reason: 'SaveCompleted.dsid: required', errorCode: 'VALIDATION', occurredAt: 1500 }),
    );
    tail.take('dsf.events', 0, '5', rejected);
    tail.take('dsf.events', 0, '5', rejected); // redelivered: kept once
    tail.take('dsf.events', 0, '6', later);
    tail.take('dsf.events.dlq', 1, '0', dead);
    tail.take('dsf.events.dlq', 1, '0', dead);
    tail.take('dsf.events', 0, '7', Buffer.from('not an envelope')); // not ours to judge: only moves the position
    expect(tail.recentRejections().map((r) => [r.correlationId, r.rule ?? '', r.offset])).toEqual([
      ['m-2', '', '6'],
      ['m-1', 'ONLINE_SAVE_NEEDS_DSIM', '5'],
    ]);
    expect(tail.recentDeadLetters()).toEqual([
      expect.objectContaining({ dlqTopic: 'dsf.events.dlq', dlqOffset: '0', sourceTopic: 'dsf.events', partition: 2, offset: '17', errorCode: 'VALIDATION', reason: 'SaveCompleted.dsid: required' }),
    ]);
    expect(tail.positionsNow()).toEqual({ 'dsf.events:0': '8' });
    await new Promise((r) => setTimeout(r, 60));
    expect(notices).toEqual([{ topics: ['dsf.events', 'dsf.events.dlq'], positions: { 'dsf.events:0': '8' } }]);
    await tail.stop();
  });
});

describe('the as-of query', () => {
  it('takes an offset (with a sov.events offset) or an ISO time, refuses the rest naming it', () => {
    expect(asOfQueryOf({})).toBeUndefined();
    expect(asOfQueryOf({ offset: '12', sovOffset: '3' })).toBe('offset=12&sovOffset=3');
    expect(asOfQueryOf({ time: '2025-01-31T12:00:00+01:00' })).toBe(`time=${encodeURIComponent('2025-01-31T11:00:00.000Z')}`);
    expect(() => asOfQueryOf({ offset: '-1' })).toThrow(/offset: expected a whole number/);
    expect(() => asOfQueryOf({ offset: '1', time: '2025-01-31T12:00:00Z' })).toThrow(/offset or time, not both/);
    expect(() => asOfQueryOf({ sovOffset: '1' })).toThrow(/sovOffset: only with offset/);
    expect(() => asOfQueryOf({ time: 'yesterday' })).toThrow(/time: expected an ISO date/);
  });
});
