import { BadRequestException } from '@nestjs/common';
import { parseDbid } from './catalog.controller';

describe('parseDbid', () => {
  it.each([
    ['1', 1],
    ['7', 7],
    ['65535', 65535],
  ])('accepts %s', (raw, n) => expect(parseDbid(raw)).toBe(n));

  it.each([undefined, '', '0', '65536', '-1', '1.5', '01', 'abc', '7 ', ['1', '2'], '999999999999'])('rejects %p with a 400 naming dbid', (raw) => {
    expect(() => parseDbid(raw)).toThrow(BadRequestException);
    expect(() => parseDbid(raw)).toThrow(/^dbid: /);
  });
});
