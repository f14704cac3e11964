import { literal } from './statement-batch';
// node-postgres' own rendering, the reference
const { escapeLiteral } = require('pg/lib/utils') as { escapeLiteral: (s: string) => string };

describe('literal', () => {
  it('renders long values as node-postgres escapeLiteral does (quotes, backslashes, both, neither)', () => {
    const parts = ["a'b", 'c\\d', "'\\'", 'plain', '{"k":"v\\"w"}', 'é€'];
    for (const p of parts) {
      const long = p.repeat(400);
      expect(literal(long)).toBe(escapeLiteral(long));
      expect(literal(p)).toBe(escapeLiteral(p));
    }
    expect(literal(JSON.stringify([{ a: "it's", b: 'c:\\temp' }]).repeat(50))).toBe(escapeLiteral(JSON.stringify([{ a: "it's", b: 'c:\\temp' }]).repeat(50)));
  });
});
