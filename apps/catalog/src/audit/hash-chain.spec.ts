import { checkChain, linkOf } from './hash-chain';

function chain(topic: string, values: string[]) {
  const links: Array<{ offset: string; hash: string }> = [];
  let previous = '';
  values.forEach((v, i) => {
    previous = linkOf(previous, topic, 0, String(i), Buffer.from(v));
    links.push({ offset: String(i), hash: previous });
  });
  return links;
}
const read = (values: string[], from: number) => values.slice(from).map((v, i) => ({ offset: String(from + i), value: Buffer.from(v) }));

describe('the hash chain check', () => {
  const values = ['a', 'b', 'c'];

  it('a record gone from dsf.events (kept whole) is missing; from below dsf.dlog\'s log start it is cut by retention', () => {
    const events = checkChain(new Map([['dsf.events:0', read(values, 1)]]), new Map([['dsf.events:0', chain('dsf.events', values)]]));
    expect(events.problems).toEqual([expect.objectContaining({ topic: 'dsf.events', offset: 0, problem: 'missing' })]);
    const dlog = checkChain(new Map([['dsf.dlog:0', read(values, 1)]]), new Map([['dsf.dlog:0', chain('dsf.dlog', values)]]));
    expect(dlog).toEqual({ checked: 2, unchained: 0, cut: 1, problems: [] });
  });

  it('a changed record above dsf.dlog\'s log start is still reported', () => {
    const changed = read(values, 1);
    changed[1] = { offset: '2', value: Buffer.from('X') };
    const dlog = checkChain(new Map([['dsf.dlog:0', changed]]), new Map([['dsf.dlog:0', chain('dsf.dlog', values)]]));
    expect(dlog.problems).toEqual([expect.objectContaining({ topic: 'dsf.dlog', offset: 2, problem: 'changed' })]);
  });
});
