import { HttpRequestStats } from 'src/modules/metrics/http-request-stats';
import { TrafficHistory } from 'src/modules/console/traffic-history';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe(TrafficHistory.name, () => {
  let stats: HttpRequestStats;
  let history: TrafficHistory;
  const record = (route: string, status: number, seconds: number, isAborted = false) =>
    stats.cellFor(route).record('POST', status, isAborted, seconds);

  beforeEach(() => {
    stats = new HttpRequestStats(new Set());
    history = new TrafficHistory(stats, 5);
  });

  it('counts model routes only; errors are 5xx and aborted responses, not 4xx', () => {
    history.sample(0);
    record('/v1/chat/completions', 200, 0.1);
    record('/c1/chat/completions', 502, 0.3);
    record('/v1/chat/completions', 200, 0.2, true);
    record('/v1/chat/completions', 429, 0.0);
    record('/api/keys', 500, 5);
    record('/healthz', 200, 1);
    expect(history.window(MINUTE, HOUR)).toEqual({
      requests: 4,
      errors: 2,
      avg_latency_ms: expect.closeTo(150, 6),
      covered_seconds: 60,
    });
  });

  it('answers a window from the sample at its start', () => {
    history.sample(0);
    record('/v1/chat/completions', 200, 1);
    history.sample(MINUTE);
    record('/v1/chat/completions', 200, 3);
    history.sample(2 * MINUTE);
    expect(history.window(2 * MINUTE + 1000, MINUTE + 1000).requests).toBe(1);
    expect(history.window(2 * MINUTE + 1000, HOUR)).toMatchObject({
      requests: 2,
      avg_latency_ms: 2000,
    });
  });

  it('keeps a bounded number of samples, and says how much of the window it saw', () => {
    for (let i = 0; i < 20; i++) {
      history.sample(i * MINUTE);
    }
    expect(history.window(20 * MINUTE, HOUR).covered_seconds).toBe(5 * 60);
  });

  it('reports no latency for a window without requests', () => {
    history.sample(0);
    expect(history.window(MINUTE, HOUR)).toEqual({
      requests: 0,
      errors: 0,
      avg_latency_ms: null,
      covered_seconds: 60,
    });
  });
});
