import { HttpRequestStats } from 'src/modules/metrics/http-request-stats';

/** Cumulative request figures of the model routes at one moment. */
export interface TrafficSample {
  at: number;
  requests: number;
  errors: number;
  /** Sum of response times, seconds. */
  seconds: number;
}

export interface TrafficWindow {
  requests: number;
  errors: number;
  avg_latency_ms: number | null;
  /** How much of the window the process has seen (it may have started within it), seconds. */
  covered_seconds: number;
}

/** The routes whose traffic the console shows: what clients call, not probes or the console. */
const isModelRoute = (route: string) => route.startsWith('/v1/') || route.startsWith('/c1/');
const STATUS_5XX = 4;
const ABORTED = 5;

/**
 * Requests, errors (5xx and aborted; 4xx are the caller's) and latency over the last hour and
 * day, from the in-process request statistics that feed /metrics. Those are cumulative, so a
 * sample is kept every minute (at most a day's worth: 1,441 small objects) and a window is the
 * difference between now and the sample at its start. Per instance, since start.
 */
export class TrafficHistory {
  private readonly samples: TrafficSample[] = [];

  constructor(
    private readonly stats: HttpRequestStats,
    private readonly maxSamples = 24 * 60 + 1,
  ) {}

  sample(now: number): void {
    this.samples.push(this.current(now));
    if (this.samples.length > this.maxSamples) {
      this.samples.shift();
    }
  }

  window(now: number, ms: number): TrafficWindow {
    const current = this.current(now);
    const start =
      this.samples.find((s) => s.at >= now - ms) ??
      this.samples[this.samples.length - 1] ??
      current;
    const requests = current.requests - start.requests;
    return {
      requests,
      errors: current.errors - start.errors,
      avg_latency_ms: requests > 0 ? ((current.seconds - start.seconds) * 1000) / requests : null,
      covered_seconds: Math.round((now - start.at) / 1000),
    };
  }

  private current(now: number): TrafficSample {
    let requests = 0;
    let errors = 0;
    let seconds = 0;
    for (const cell of this.stats.cells()) {
      if (!isModelRoute(cell.route)) {
        continue;
      }
      for (const [, method] of cell.entries()) {
        requests += method.count;
        errors += method.statuses[STATUS_5XX] + method.statuses[ABORTED];
        seconds += method.sum;
      }
    }
    return { at: now, requests, errors, seconds };
  }
}
