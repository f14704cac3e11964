import { lagOf, parseSamples } from './prometheus';

const TEXT = `# HELP deltaflow_kafka_consumer_lag Records behind
# TYPE deltaflow_kafka_consumer_lag gauge
deltaflow_kafka_consumer_lag{group="deltaflow.catalog",topic="dsf.events",partition="3"} 17
deltaflow_kafka_consumer_lag{group="deltaflow.catalog",topic="dsf.events",partition="0"} 0
deltaflow_kafka_consumer_lag{group="deltaflow.catalog",topic="sov.events",partition="1"} 2 1700000000000
deltaflow_kafka_messages_dead_lettered_total{group="deltaflow.catalog",topic="dsf.events"} 3
deltaflow_kafka_messages_dead_lettered_total{group="deltaflow.catalog",topic="sov.events"} 1
deltaflow_kafka_messages_handled_total{group="deltaflow.catalog",topic="dsf.events"} 900
odd_metric{label="with \\"quote\\", comma"} 5
`;

describe('prometheus text', () => {
  it('reads the lag per topic and partition and the dead-lettered total, nothing else', () => {
    const r = lagOf('catalog', TEXT);
    expect(r.lag).toEqual([
      { service: 'catalog', group: 'deltaflow.catalog', topic: 'dsf.events', partition: 0, lag: 0 },
      { service: 'catalog', group: 'deltaflow.catalog', topic: 'dsf.events', partition: 3, lag: 17 },
      { service: 'catalog', group: 'deltaflow.catalog', topic: 'sov.events', partition: 1, lag: 2 },
    ]);
    expect(r.deadLettered).toBe(4);
  });

  it('unescapes label values and skips families not asked for', () => {
    expect(parseSamples(TEXT, new Set(['odd_metric']))).toEqual([{ name: 'odd_metric', labels: { label: 'with "quote", comma' }, value: 5 }]);
    expect(lagOf('x', 'garbage\n{}\n')).toEqual({ lag: [], deadLettered: 0 });
  });
});
