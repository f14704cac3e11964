import { progressSink, type TerminalStream } from './progress';

/** A terminal that keeps what is drawn, escape sequences stripped. */
function fakeTerminal() {
  let raw = '';
  const t: TerminalStream & { text(): string } = {
    isTTY: true,
    columns: 100,
    write: (s: string) => {
      raw += s;
      return true;
    },
    text: () => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, ''),
  };
  return t;
}

describe('progress', () => {
  it('on a terminal: a bar from the steps, the other lines above it, the last state left on screen', () => {
    const out: string[] = [];
    const term = fakeTerminal();
    const p = progressSink({ json: false, out: (l) => out.push(l), err: () => undefined, terminal: term });
    p.line('save started');
    p.show({ line: '  10/40 blocks written', step: { done: 10, total: 40, unit: 'blocks' } });
    p.show({ line: '  the DSIM collects' });
    p.show({ line: '  40/40 blocks written', step: { done: 40, total: 40, unit: 'blocks' } });
    p.stop();
    expect(out).toEqual(['save started']); // before the bar: a plain line
    const screen = term.text();
    expect(screen).toContain('the DSIM collects');
    expect(screen).toMatch(/100% 40 blocks of 40 blocks/);
    expect(screen).not.toContain('blocks written'); // the bar replaces the step lines
  });

  it('bytes, and a total not known yet', () => {
    const term = fakeTerminal();
    const p = progressSink({ json: false, out: () => undefined, err: () => undefined, terminal: term });
    p.show({ step: { done: 1048576, unit: 'bytes' } });
    p.stop();
    expect(term.text()).toMatch(/1\.0 MiB so far/);
    const t2 = fakeTerminal();
    const q = progressSink({ json: false, out: () => undefined, err: () => undefined, terminal: t2 });
    q.show({ step: { done: 1048576, total: 4194304, unit: 'bytes' } });
    q.stop();
    expect(t2.text()).toMatch(/ 25% 1\.0 MiB of 4\.0 MiB/);
  });

  it('not a terminal: the lines on stdout; with --json: on stderr, nothing on stdout', () => {
    const out: string[] = [];
    const err: string[] = [];
    const plain = progressSink({ json: false, out: (l) => out.push(l), err: (l) => err.push(l) });
    plain.show({ line: '  10/40 blocks written', step: { done: 10, total: 40, unit: 'blocks' } });
    plain.show({ line: '  10/40 blocks written', step: { done: 10, total: 40, unit: 'blocks' } }); // a repeat says nothing new
    plain.stop();
    expect(out).toEqual(['  10/40 blocks written']);
    const term = fakeTerminal();
    const json = progressSink({ json: true, out: (l) => out.push(l), err: (l) => err.push(l), terminal: term });
    json.line('sent');
    json.show({ line: '  20/40 blocks written', step: { done: 20, total: 40, unit: 'blocks' } });
    json.stop();
    expect(out).toHaveLength(1);
    expect(err).toEqual(['sent', '  20/40 blocks written']);
    expect(term.text()).toBe('');
  });
});
