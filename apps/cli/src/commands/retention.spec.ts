import { renderReport } from './report';
import { renderRetention } from './retention';

const dataSets = {
  dbid: 1,
  source: 'set' as const,
  rule: 'the last save',
  keep: [
    { correlationId: 'd2', dsid: '2/1/2026-12-02T06:00:00.000Z@L', path: 'd2', why: 'the last save' },
    { correlationId: 'f2', dsid: '2/0/2026-12-02T05:00:00.000Z@L', path: 'f2', why: 'needed by the chain of 2/1/2026-12-02T06:00:00.000Z@L (d2)' },
  ],
  expire: [{ correlationId: 'f1', dsid: '1/0/2026-12-01T05:00:00.000Z@L', names: ['f1', 'f1.dsim'], why: 'outside the retention (the last save) and needed by no kept save' }],
  expired: [{ correlationId: 'f0', dsid: '0/0/x@L', expiredAt: Date.UTC(2026, 11, 2), reason: 'outside the retention', names: ['f0'] }],
};

describe('dsf retention list and the retention in dsf report', () => {
  it('lists per database the rule, each kept save with why, what is due and what expired', () => {
    const o = renderRetention([dataSets]);
    expect(o.exitCode).toBe(0);
    const text = o.lines.join('\n');
    expect(text).toMatch(/^database 1\ndata set retention: keeps the last save \(dsf retention set\), and every save a kept one needs/);
    expect(text).toMatch(/f2 +2\/0\/.* +f2 +needed by the chain of .* \(d2\)/);
    expect(text).toMatch(/due to expire at the next dsf expire \(1\):\n.*\n +f1 +1\/0\/.* +f1 f1\.dsim +outside the retention/);
    expect(text).toMatch(/expired \(1\):\n.*\n +f0 .* 2026-12-02T00:00:00\.000Z +outside the retention/);
    expect(o.json).toMatchObject({ ok: true, command: 'retention list', retentions: [dataSets] });
    expect(() => renderRetention({})).toThrow(/not a list of retentions/);
  });

  it('dsf report shows the topic retentions of the database partition, then the data set retention', () => {
    const topics = [{ topic: 'dsf.plog', partition: 3, logStart: 100, end: 250, cutBy: 'the DSIM builder', readers: [{ group: 'deltaflow.dsim-builder', offset: 240 }] }];
    const text = renderReport(1, { dbid: 1, retention: { dataSets, topics } }).lines.join('\n');
    expect(text).toMatch(/retention:\n  dsf\.plog\[3\]: keeps offsets 100\.\.250 \(150 records\); cut by the DSIM builder; readers: deltaflow\.dsim-builder at 240\n  data set retention: keeps the last save/);
    expect(renderReport(1, { dbid: 1, retention: { topics: { error: 'Kafka did not answer within 5 s' } } }).lines).toContain('  topics: not known (Kafka did not answer within 5 s)');
  });
});
