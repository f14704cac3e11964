/**
 * The console page (Preact). Reads /api/state (live, or as of a point) and /api/health, and
 * listens to /api/events: each "changed" notice refetches the live state, so the page follows
 * the system without reloading. Everything it draws comes out of view-model.ts.
 */
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleState, DatabaseRows, HealthState, RetentionRow } from './rows';
import {
  asOfQuery,
  describePoint,
  dlogSummary,
  dsimSummary,
  formatBytes,
  formatDuration,
  formatTime,
  lagTable,
  timelineOf,
  volumeStrips,
  type TimelineEntry,
} from './view-model';

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (res.status === 401) {
    location.href = '/login';
    throw new Error('signed out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(String((body as { message?: unknown }).message ?? `${res.status} ${res.statusText}`));
  return body as T;
}

type Link = 'connecting' | 'live' | 'reconnecting';

function App() {
  const initial = new URLSearchParams(location.search);
  const initialQuery = ['offset', 'time'].some((k) => initial.has(k)) ? initial.toString() : undefined;
  const [asOf, setAsOf] = useState<string | undefined>(initialQuery);
  const [state, setState] = useState<ConsoleState | undefined>();
  const [health, setHealth] = useState<HealthState | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [link, setLink] = useState<Link>('connecting');
  const [updates, setUpdates] = useState(0);
  const [positions, setPositions] = useState<Record<string, string>>({});
  const inFlight = useRef<Promise<void> | undefined>();
  const again = useRef(false);
  const asOfRef = useRef(asOf);
  asOfRef.current = asOf;

  const load = useCallback(async () => {
    // one fetch at a time; a notice during it asks for one more after it
    if (inFlight.current) {
      again.current = true;
      return inFlight.current;
    }
    const run = async () => {
      do {
        again.current = false;
        const q = asOfRef.current;
        try {
          const [s, h] = await Promise.all([getJson<ConsoleState>(q ? `/api/state?${q}` : '/api/state'), getJson<HealthState>('/api/health')]);
          if (asOfRef.current !== q) continue;
          setState(s);
          setHealth(h);
          setPositions(h.positions);
          setError(undefined);
          setUpdates((n) => n + 1);
        } catch (e) {
          setError((e as Error).message);
        }
      } while (again.current);
    };
    inFlight.current = run().finally(() => (inFlight.current = undefined));
    return inFlight.current;
  }, []);

  useEffect(() => {
    void load();
  }, [asOf]);

  useEffect(() => {
    const es = new EventSource('/api/events');
    es.addEventListener('hello', (e) => {
      setLink('live');
      setPositions(JSON.parse((e as MessageEvent).data).positions ?? {});
    });
    es.addEventListener('changed', (e) => {
      setPositions(JSON.parse((e as MessageEvent).data).positions ?? {});
      if (asOfRef.current === undefined) void load();
    });
    es.onerror = () => setLink('reconnecting');
    const timer = setInterval(() => void getJson<HealthState>('/api/health').then(setHealth, () => undefined), 10_000);
    return () => {
      es.close();
      clearInterval(timer);
    };
  }, []);

  const choose = (q: string | undefined) => {
    history.replaceState(null, '', q ? `/?${q}` : '/');
    setState(undefined);
    setAsOf(q);
  };

  return (
    <div class="console">
      <header>
        <h1>Deltaflow console</h1>
        <span class={`point ${state?.mode === 'as-of' || asOf ? 'as-of' : 'live'}`} data-testid="point">
          {asOf ? (state ? describePoint(state) : 'as of …') : 'live'}
        </span>
        <span class={`link ${link}`} data-testid="link" title="the notices from /api/events">
          {link === 'live' ? '● connected' : link === 'connecting' ? '○ connecting' : '○ reconnecting'}
        </span>
        <span class="updates" data-testid="updates">
          updates: {updates}
        </span>
        {document.body.dataset.session === 'cookie' && (
          <form method="post" action="/logout" class="logout">
            <button type="submit">Sign out</button>
          </form>
        )}
      </header>
      <AsOfControl current={asOf} positions={positions} onChoose={choose} />
      {error && (
        <p class="error" role="alert" data-testid="error">
          {error}
        </p>
      )}
      {state?.unavailable && (
        <p class="unavailable" data-testid="unavailable">
          {state.unavailable}
        </p>
      )}
      {state?.digest && <p class="digest">catalog digest at this point: <code>{state.digest}</code></p>}
      {state?.notes.map((n) => (
        <p class="note" key={n}>
          {n}
        </p>
      ))}
      {!state && !error && <p class="loading">Loading…</p>}
      {state && !state.unavailable && (
        <>
          <Databases state={state} />
          <Volumes state={state} />
        </>
      )}
      {health && <Health health={health} />}
    </div>
  );
}

function AsOfControl(p: { current?: string; positions: Record<string, string>; onChoose: (q: string | undefined) => void }) {
  const [by, setBy] = useState<'offset' | 'time'>('offset');
  const [offset, setOffset] = useState('');
  const [sovOffset, setSovOffset] = useState('');
  const [time, setTime] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const submit = (e: Event) => {
    e.preventDefault();
    const r = asOfQuery({ by, offset, sovOffset, time });
    if ('error' in r) return setProblem(r.error);
    setProblem(undefined);
    p.onChoose(r.query);
  };
  const ends = Object.entries(p.positions);
  return (
    <form class="as-of-control" onSubmit={submit} data-testid="as-of">
      <strong>As of</strong>
      <label>
        <input type="radio" name="by" checked={by === 'offset'} onChange={() => setBy('offset')} /> offset
      </label>
      <label>
        <input type="radio" name="by" checked={by === 'time'} onChange={() => setBy('time')} /> time (UTC)
      </label>
      {by === 'offset' ? (
        <>
          <input name="offset" placeholder="dsf.events offset" value={offset} onInput={(e) => setOffset((e.target as HTMLInputElement).value)} size={14} />
          <input name="sovOffset" placeholder="sov.events offset (optional)" value={sovOffset} onInput={(e) => setSovOffset((e.target as HTMLInputElement).value)} size={22} />
        </>
      ) : (
        <input name="time" type="datetime-local" step="1" value={time} onInput={(e) => setTime((e.target as HTMLInputElement).value)} />
      )}
      <button type="submit">Show</button>
      <button type="button" disabled={!p.current} onClick={() => p.onChoose(undefined)}>
        Back to live
      </button>
      {problem && <span class="error">{problem}</span>}
      {ends.length > 0 && (
        <details class="positions">
          <summary>read up to</summary>
          {ends.map(([k, v]) => (
            <span key={k}>
              {k} → {v}
            </span>
          ))}
        </details>
      )}
    </form>
  );
}

function Databases({ state }: { state: ConsoleState }) {
  return (
    <section class="databases" data-testid="databases">
      <h2>Databases</h2>
      {state.databases.length === 0 && <p class="empty">No database has a save, DSIM, restore or DLOG in the catalog{state.mode === 'as-of' ? ' at this point' : ' yet'}.</p>}
      {state.databases.map((db) => (
        <Database key={db.dbid} db={db} />
      ))}
    </section>
  );
}

function Database({ db }: { db: DatabaseRows }) {
  const entries = timelineOf(db);
  const dsim = dsimSummary(db.dsims);
  const dlog = dlogSummary(db.dlog);
  return (
    <article class="database" data-dbid={db.dbid} data-testid={`db-${db.dbid}`}>
      <h3>Database {db.dbid}</h3>
      <ol class="timeline" data-testid="timeline">
        {entries.map((e) => (
          <Entry key={e.key} e={e} />
        ))}
        {entries.length === 0 && <li class="empty">no save yet</li>}
      </ol>
      <div class="facts">
        <div class="dsim" data-testid="dsim">
          <h4>DSIM</h4>
          <p>{dsim.label}</p>
          {dsim.count > 1 && <p class="small">{dsim.count} DSIMs so far</p>}
        </div>
        <div class="dlog" data-testid="dlog">
          <h4>DLOG</h4>
          {dlog ? (
            <>
              <p>
                blocks changed since the last save: {dlog.blocks}; last LSN {dlog.lastLsn}
              </p>
              <p>update extension: {dlog.extension} extents</p>
              {dlog.pending && <p>pending: {dlog.pending}</p>}
              {dlog.marks.length > 0 ? (
                <table class="marks">
                  <thead>
                    <tr>
                      <th>file</th>
                      <th>utility mark</th>
                      <th>extents</th>
                    </tr>
                  </thead>
                  <tbody>
                    {dlog.marks.map((m) => (
                      <tr key={m.file}>
                        <td>{m.file}</td>
                        <td>{m.parts}</td>
                        <td>{m.extents}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <p class="small">no utility marks</p>
              )}
            </>
          ) : (
            <p class="small">no DLOG in the catalog</p>
          )}
        </div>
        {db.retention && <Retention r={db.retention} />}
      </div>
    </article>
  );
}

/** The data set retention: its rule, what it keeps and why, what is due, what went (as `dsf report` prints it). */
function Retention({ r }: { r: RetentionRow }) {
  return (
    <div class="retention" data-testid="retention">
      <h4>Retention</h4>
      <p>
        {r.rule} <span class="small">({r.source === 'set' ? 'set by dsf retention set' : "the catalog's default"})</span>
      </p>
      <p class="small">
        {r.keep.length} kept, {r.expire.length} due to expire, {r.expired.length} expired
      </p>
      {r.keep.length > 0 && (
        <ul class="kept">
          {r.keep.slice(-6).map((k) => (
            <li key={k.correlationId}>
              {k.dsid}: {k.why}
            </li>
          ))}
        </ul>
      )}
      {r.expired.length > 0 && (
        <ul class="expired">
          {r.expired.slice(-3).map((x) => (
            <li key={x.correlationId}>
              {x.dsid} expired: {x.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Entry({ e }: { e: TimelineEntry }) {
  return (
    <li class={`entry lane-${e.lane} status-${e.status}`} data-lane={e.lane} data-kind={e.kind ?? ''} data-status={e.status} data-testid="entry">
      <div class="label">{e.label}</div>
      <div class="dsid" data-testid="dsid">
        {e.dsid ?? '—'}
      </div>
      {e.name && <div class="name">{e.name}</div>}
      <dl>
        {e.mode && (
          <>
            <dt>mode</dt>
            <dd>{e.mode}</dd>
          </>
        )}
        <dt>blocks</dt>
        <dd>{e.blocks ?? '—'}</dd>
        {e.lane !== 'restore' && e.lane !== 'fork' && (
          <>
            <dt>bytes</dt>
            <dd>{formatBytes(e.bytes)}</dd>
          </>
        )}
        <dt>duration</dt>
        <dd>{formatDuration(e.durationMs)}</dd>
        <dt>status</dt>
        <dd class="status">{e.status}</dd>
        {e.lineage && e.lane === 'fork' && (
          <>
            <dt>lineage</dt>
            <dd>{e.lineage}</dd>
          </>
        )}
      </dl>
      {e.inputs && <div class="small">from {e.inputs.join(', ')}</div>}
      {e.reason && <div class="reason">{e.reason}</div>}
      <time class="small">{formatTime(e.at)}</time>
    </li>
  );
}

function Volumes({ state }: { state: ConsoleState }) {
  const cap = new Map(state.streams.map((s) => [s.stream, s.volumeCapacity]));
  const strips = volumeStrips(state.volumes, state.clientFiles, state.runs, (s) => cap.get(s));
  return (
    <section class="volumes" data-testid="volumes">
      <h2>Streams, devices and volumes</h2>
      {state.streams.length === 0 && <p class="empty">No stream defined.</p>}
      {state.streams.map((s) => (
        <p key={s.stream} class="stream">
          <strong>{s.stream}</strong>: {s.devices.map((d) => `${d.device} (${d.status}${d.volser ? `, ${d.volser}` : ''})`).join(', ') || 'no device'}; {s.openClientFiles} open client
          file(s), {s.volumes} volume(s)
        </p>
      ))}
      {strips.map((v) => (
        <div class="volume" key={v.volser} data-testid="volume">
          <div class="volume-head">
            <strong>{v.volser}</strong> {v.stream} on {v.device}, {v.state}; fill {v.fill === undefined ? '—' : `${(v.fill * 100).toFixed(1)} %`}; expires {v.expires}
            {v.suspect && <span class="error"> suspect: {v.suspect}</span>}
          </div>
          <div class="strip" title={v.clientFiles.join(', ')}>
            <div class="fill" style={{ width: `${(v.fill ?? 0) * 100}%` }} />
            {v.segments.map((g) => (
              <div key={`${g.incarnation}:${g.left}`} class={`run c${g.color % 8}`} style={{ left: `${g.left * 100}%`, width: `max(2px, ${g.width * 100}%)` }} title={g.title} />
            ))}
          </div>
          <div class="legend small">{[...new Set(v.segments.map((g) => g.clientFile))].join(' · ') || v.clientFiles.join(' · ') || 'empty'}</div>
        </div>
      ))}
    </section>
  );
}

function Health({ health }: { health: HealthState }) {
  const lag = lagTable(health);
  return (
    <section class="health" data-testid="health">
      <h2>Health</h2>
      <h3>Consumer lag</h3>
      <table data-testid="lag-totals">
        <thead>
          <tr>
            <th>service</th>
            <th>up</th>
            <th>lag (records)</th>
            <th>partitions</th>
            <th>dead-lettered</th>
          </tr>
        </thead>
        <tbody>
          {health.services.map((s) => (
            <tr key={s.service} class={s.up ? '' : 'down'}>
              <td>{s.service}</td>
              <td title={s.error}>{s.up ? 'yes' : 'no'}</td>
              <td>{lag.totals.find((t) => t.service === s.service)?.lag ?? 0}</td>
              <td>{s.lag.length}</td>
              <td>{s.deadLettered}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>lag per partition ({lag.rows.length})</summary>
        <table data-testid="lag">
          <thead>
            <tr>
              <th>service</th>
              <th>group</th>
              <th>topic</th>
              <th>partition</th>
              <th>lag</th>
            </tr>
          </thead>
          <tbody>
            {lag.rows.map((r) => (
              <tr key={`${r.service}:${r.group}:${r.topic}:${r.partition}`}>
                <td>{r.service}</td>
                <td>{r.group}</td>
                <td>{r.topic}</td>
                <td>{r.partition}</td>
                <td>{r.lag}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      <h3>Dead letters</h3>
      {health.deadLetters.length === 0 ? (
        <p class="empty">none in the recent records of the dead-letter topics</p>
      ) : (
        <table data-testid="dead-letters">
          <thead>
            <tr>
              <th>when</th>
              <th>topic</th>
              <th>from</th>
              <th>group</th>
              <th>code</th>
              <th>reason</th>
            </tr>
          </thead>
          <tbody>
            {health.deadLetters.map((d) => (
              <tr key={`${d.dlqTopic}:${d.dlqPartition}:${d.dlqOffset}`}>
                <td>{formatTime(d.occurredAt)}</td>
                <td>{d.dlqTopic}</td>
                <td>
                  {d.sourceTopic}[{d.partition}]@{d.offset}
                </td>
                <td>{d.consumerGroup}</td>
                <td>{d.errorCode}</td>
                <td>{d.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Recent rejections</h3>
      {health.rejections.length === 0 ? (
        <p class="empty">none in the recent events</p>
      ) : (
        <table data-testid="rejections">
          <thead>
            <tr>
              <th>when</th>
              <th>event</th>
              <th>db</th>
              <th>command</th>
              <th>code / rule</th>
              <th>reason</th>
            </tr>
          </thead>
          <tbody>
            {health.rejections.map((r) => (
              <tr key={`${r.topic}:${r.partition}:${r.offset}`}>
                <td>{formatTime(r.occurredAt)}</td>
                <td>{r.type}</td>
                <td>{r.dbid ?? ''}</td>
                <td>{r.commandType ?? ''}</td>
                <td>{[r.code, r.rule].filter(Boolean).join(' / ')}</td>
                <td>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {health.tail.error && <p class="error">{health.tail.error}</p>}
    </section>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the shell's "Loading…" line
render(<App />, root);
