import { Throttle } from './throttle';

describe('Throttle', () => {
  it('lets one second of bytes through at once, then holds the average rate', async () => {
    const t = new Throttle(1_000_000);
    const t0 = performance.now();
    await t.take(1_000_000); // the bucket's second
    const burst = performance.now() - t0;
    await t.take(200_000); // 0.2 s more
    const total = performance.now() - t0;
    expect(burst).toBeLessThan(900); // not a second's wait
    expect(total).toBeGreaterThanOrEqual(180);
  });

  it('a small burst lets an idle limit run ahead only that far', async () => {
    const t = new Throttle(1_000_000, 20);
    const t0 = performance.now();
    await t.take(200_000); // 0.2 s of transfer, of which 20 ms may be ahead
    expect(performance.now() - t0).toBeGreaterThanOrEqual(170);
  });

  it('refuses a rate that is not a positive finite number, or a burst below zero', () => {
    for (const r of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new Throttle(r)).toThrow(RangeError);
    for (const b of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new Throttle(1, b)).toThrow(RangeError);
  });
});
