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

/** GET /api/gpu-stats (SPEC "Fleet"): GPU nodes and the load of every catalog upstream. */
interface Fleet {
  nodes: {
    node: string;
    reported_at: string;
    stale: boolean;
    gpus: {
      index: number;
      name: string | null;
      utilization_gpu: number | null;
      memory_used_mib: number | null;
      memory_total_mib: number | null;
      temperature_c: number | null;
    }[];
  }[];
  upstreams: {
    alias: string;
    url: string;
    status: string;
    running: number | null;
    waiting: number | null;
    kv_cache_usage: number | null;
    ttft_p50_ms: number | null;
    stale: boolean;
    last_error: string | null;
  }[];
}

const orDash = (value: number | null, unit = '') => (value === null ? '–' : `${n(value)}${unit}`);
const percent = (value: number | null) => (value === null ? '–' : `${Math.round(value * 100)} %`);

/** The fleet's figures (GET /api/gpu-stats); the catalog's health when they cannot be read. */
async function fleet(): Promise<{ kind: 'fleet'; data: Fleet } | { kind: 'catalog'; data: Info }> {
  try {
    return { kind: 'fleet', data: await api<Fleet>('GET', '/api/gpu-stats') };
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
      {health?.kind === 'fleet' && <FleetTables fleet={health.data} />}
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

function FleetTables({ fleet }: { fleet: Fleet }) {
  return (
    <>
      <table>
        <caption>Upstream load (stale figures are not used for routing)</caption>
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col">Upstream</th>
            <th scope="col">Status</th>
            <th scope="col">Running</th>
            <th scope="col">Waiting</th>
            <th scope="col">KV cache</th>
            <th scope="col">TTFT p50</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {fleet.upstreams.map((u) => (
            <tr>
              <td>{u.alias}</td>
              <td>{u.url}</td>
              <td class={`status-${u.status}`}>{u.stale ? `${u.status} (stale)` : u.status}</td>
              <td>{orDash(u.running)}</td>
              <td>{orDash(u.waiting)}</td>
              <td>{percent(u.kv_cache_usage)}</td>
              <td>{orDash(u.ttft_p50_ms, ' ms')}</td>
              <td>{u.last_error ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <table>
        <caption>GPU nodes (reported by the agent)</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">GPU</th>
            <th scope="col">Utilisation</th>
            <th scope="col">Memory</th>
            <th scope="col">Temperature</th>
            <th scope="col">Reported</th>
          </tr>
        </thead>
        <tbody>
          {fleet.nodes.length === 0 && (
            <tr>
              <td colSpan={6}>No node has reported yet (npm run gpu-agent on each GPU machine).</td>
            </tr>
          )}
          {fleet.nodes.flatMap((node) =>
            node.gpus.map((gpu) => (
              <tr>
                <td>{node.node}</td>
                <td>{`${gpu.index}: ${gpu.name ?? '?'}`}</td>
                <td>{orDash(gpu.utilization_gpu, ' %')}</td>
                <td>{`${orDash(gpu.memory_used_mib)} / ${orDash(gpu.memory_total_mib)} MiB`}</td>
                <td>{orDash(gpu.temperature_c, ' °C')}</td>
                <td>{node.stale ? `${node.reported_at} (stale)` : node.reported_at}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
    </>
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
