import { Counter, Histogram, HistogramConfiguration } from 'prom-client';
import { HistogramCell, histogramScrape } from 'src/modules/metrics/cell-metrics';

/**
 * Route templates answered even while the gateway sheds load or drains (SPEC "Beyond the
 * others": load shedding), so probes and scrapes keep working when they matter most.
 */
export const SHED_EXEMPT_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/metrics']);

/** The `route` label of requests no route matched (404s): never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/** `status_class` values: 1xx…5xx, and `aborted` for responses that never completed. */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'aborted'] as const;
const ABORTED = 5;

export const HTTP_DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** Counts and latency of one (route, method): plain numbers, updated without allocation. */
class MethodCell extends HistogramCell {
  /** Requests by status class, indexed like STATUS_CLASSES. */
  readonly statuses = new Float64Array(STATUS_CLASSES.length);
}

/**
 * One route template's request statistics. The request hooks resolve the cell once per request
 * (a `Map` lookup on the template) and call `record()` when the response closes.
 */
export class RouteCell {
  private readonly methods = new Map<string, MethodCell>();

  constructor(
    readonly route: string,
    /** One of SHED_EXEMPT_ROUTES: answered even when the gateway sheds load or drains. */
    readonly isShedExempt: boolean,
    private readonly upperBounds: readonly number[],
  ) {}

  /**
   * @param status the HTTP status sent (ignored when `isAborted`)
   * @param isAborted the response never completed (client gone, connection cut)
   */
  record(method: string, status: number, isAborted: boolean, seconds: number): void {
    let cell = this.methods.get(method);
    if (cell === undefined) {
      cell = new MethodCell({ route: this.route, method }, this.upperBounds);
      this.methods.set(method, cell);
    }
    const statusClass = isAborted ? ABORTED : Math.min(Math.max((status / 100) | 0, 1), 5) - 1;
    cell.statuses[statusClass]++;
    cell.observe(seconds);
  }

  /** For the exporters: every method seen on this route with its cell. */
  entries(): IterableIterator<[string, MethodCell]> {
    return this.methods.entries();
  }
}

/**
 * Request counts and latency per route template, method and status class, kept in plain typed
 * arrays on the request path and turned into Prometheus samples only when `/metrics` is scraped.
 * prom-client's own `inc()`/`observe()` cost about 0.8 µs per request (label hashing and a
 * closure per observation); this costs a few nanoseconds.
 */
export class HttpRequestStats {
  private readonly routes = new Map<string, RouteCell>();
  readonly unmatched: RouteCell;

  constructor(
    private readonly exemptRoutes: ReadonlySet<string>,
    readonly upperBounds: readonly number[] = HTTP_DURATION_BUCKETS,
  ) {
    this.unmatched = new RouteCell(UNMATCHED_ROUTE, false, upperBounds);
  }

  /** The cell of a route template; `undefined` (no route matched) gives the `unmatched` cell. */
  cellFor(route: string | undefined): RouteCell {
    if (route === undefined) {
      return this.unmatched;
    }
    let cell = this.routes.get(route);
    if (cell === undefined) {
      cell = new RouteCell(route, this.exemptRoutes.has(route), this.upperBounds);
      this.routes.set(route, cell);
    }
    return cell;
  }

  *cells(): IterableIterator<RouteCell> {
    yield* this.routes.values();
    yield this.unmatched;
  }
}

/**
 * `parley_http_requests_total`: a prom-client Counter whose samples come from
 * `HttpRequestStats` at scrape time. Fed by the request hooks only: do not `inc()` it.
 */
export class HttpRequestsCounter extends Counter<'route' | 'method' | 'status_class'> {
  private stats?: HttpRequestStats;

  feedFrom(stats: HttpRequestStats): void {
    this.stats = stats;
  }

  override async get() {
    const metric = await super.get();
    const values: typeof metric.values = [];
    for (const route of this.stats?.cells() ?? []) {
      for (const [method, cell] of route.entries()) {
        STATUS_CLASSES.forEach((statusClass, i) => {
          if (cell.statuses[i] > 0) {
            values.push({
              labels: { route: route.route, method, status_class: statusClass },
              value: cell.statuses[i],
            });
          }
        });
      }
    }
    return { ...metric, values };
  }
}

/**
 * `parley_http_request_duration_seconds`: a prom-client Histogram whose samples come from
 * `HttpRequestStats` at scrape time. Fed by the request hooks only: do not `observe()` it.
 */
export class HttpDurationHistogram extends Histogram<'route' | 'method'> {
  private stats?: HttpRequestStats;
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(config: HistogramConfiguration<'route' | 'method'>) {
    super(config);
    this.metricName = config.name;
    this.metricHelp = config.help;
  }

  feedFrom(stats: HttpRequestStats): void {
    this.stats = stats;
  }

  /**
   * The registry serialises histograms through this method and `get()` splays its samples
   * (prom-client 15 internals), so this is the one place the samples are built.
   */
  getForPromString() {
    const series = [];
    for (const route of this.stats?.cells() ?? []) {
      for (const [, cell] of route.entries()) {
        series.push({ labels: cell.labels, tally: cell });
      }
    }
    return histogramScrape(this.metricName, this.metricHelp, this.stats?.upperBounds ?? [], series);
  }
}
