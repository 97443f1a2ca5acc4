import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';

interface Window {
  requests: number;
  errors: number;
  avg_latency_ms: number | null;
}
interface Overview {
  traffic: { last_hour: Window; last_day: Window };
  tokens: { today: Tokens; last_7_days: Tokens };
}
interface Tokens {
  prompt_tokens: number;
  completion_tokens: number;
  requests: number;
}
interface Info {
  models: {
    alias: string;
    upstreams: {
      url: string;
      status: string;
      latency_ms: number | null;
      last_error: string | null;
    }[];
  }[];
}

const n = (value: number) => value.toLocaleString('en');

/** The fleet issue's GET /api/gpu-stats when the gateway has it; else the catalog's health. */
async function fleet(): Promise<
  { kind: 'fleet'; data: unknown } | { kind: 'catalog'; data: Info }
> {
  try {
    return { kind: 'fleet', data: await api<unknown>('GET', '/api/gpu-stats') };
  } catch {
    return { kind: 'catalog', data: await api<Info>('GET', '/v1/info') };
  }
}

export function OverviewPage() {
  const [overview, setOverview] = useState<Overview | null>(null);
  const [health, setHealth] = useState<Awaited<ReturnType<typeof fleet>> | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api<Overview>('GET', '/api/overview').then(setOverview, (e: Error) => setError(e.message));
    fleet().then(setHealth, () => setHealth(null));
  }, []);

  if (error) {
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  }
  if (!overview) {
    return <p class="loading">Loading…</p>;
  }
  const { last_hour: hour, last_day: day } = overview.traffic;
  const latency = (w: Window) =>
    w.avg_latency_ms === null ? '–' : `${Math.round(w.avg_latency_ms)} ms`;
  return (
    <div class="overview">
      <section class="cards" aria-label="Traffic">
        <Card title="Requests, last hour" value={n(hour.requests)} />
        <Card title="Errors, last hour" value={n(hour.errors)} />
        <Card title="Mean latency, last hour" value={latency(hour)} />
        <Card title="Requests, last day" value={n(day.requests)} />
        <Card title="Errors, last day" value={n(day.errors)} />
        <Card title="Mean latency, last day" value={latency(day)} />
        <Card
          title="Tokens today (UTC)"
          value={n(overview.tokens.today.prompt_tokens + overview.tokens.today.completion_tokens)}
        />
        <Card
          title="Tokens, 7 days"
          value={n(
            overview.tokens.last_7_days.prompt_tokens +
              overview.tokens.last_7_days.completion_tokens,
          )}
        />
      </section>
      <h2>Upstreams</h2>
      {health?.kind === 'fleet' && <pre class="json">{JSON.stringify(health.data, null, 2)}</pre>}
      {health?.kind === 'catalog' && (
        <table>
          <caption>Model catalog health (as last seen by this instance)</caption>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Upstream</th>
              <th scope="col">Status</th>
              <th scope="col">Latency</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {health.data.models.flatMap((m) =>
              m.upstreams.map((u) => (
                <tr>
                  <td>{m.alias}</td>
                  <td>{u.url}</td>
                  <td class={`status-${u.status}`}>{u.status}</td>
                  <td>{u.latency_ms === null ? '–' : `${u.latency_ms} ms`}</td>
                  <td>{u.last_error ?? '–'}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
      <p class="hint">
        Traffic counts /v1 and /c1 requests seen by this gateway instance since it started.
      </p>
    </div>
  );
}

function Card({ title, value }: { title: string; value: string }) {
  return (
    <div class="card">
      <div class="card-title">{title}</div>
      <div class="card-value">{value}</div>
    </div>
  );
}
