import { Injectable, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { UpstreamCheckDto, UpstreamProbe } from 'src/kernel/upstream-probe';
import { CatalogUpstream } from 'src/kernel/catalog-model';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';

/** How long one probe round is reused: /readyz may be polled every second by many checkers. */
export const PROBE_CACHE_MS = 5_000;
/** Bound of one probe: readiness must answer quickly even when an upstream black-holes. */
export const PROBE_TIMEOUT_MS = 2_000;

/**
 * `UPSTREAM_PROBE` for /readyz: every upstream of every alias, probed in parallel
 * (`GET <base>/models`, see `UpstreamClient.probe`), each distinct URL and key once, results
 * cached for a few seconds and shared by concurrent callers.
 */
@Injectable()
export class UpstreamProbeService implements UpstreamProbe {
  private cached: { at: number; result: UpstreamCheckDto[] } | null = null;
  private running: Promise<UpstreamCheckDto[]> | null = null;

  constructor(
    private readonly catalog: ModelCatalog,
    private readonly client: UpstreamClient,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  check(): Promise<UpstreamCheckDto[]> {
    if (this.cached && this.clock() - this.cached.at < PROBE_CACHE_MS) {
      return Promise.resolve(this.cached.result);
    }
    this.running ??= this.probeAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async probeAll(): Promise<UpstreamCheckDto[]> {
    const byTarget = new Map<string, Promise<{ isUp: boolean; latencyMs: number }>>();
    const rows: { alias: string; upstream: CatalogUpstream }[] = [];
    for (const model of this.catalog.list()) {
      for (const upstream of model.upstreams) {
        rows.push({ alias: model.alias, upstream });
        const key = `${upstream.url}\u0000${upstream.apiKey ?? ''}`;
        if (!byTarget.has(key)) {
          byTarget.set(key, this.client.probe(upstream, PROBE_TIMEOUT_MS));
        }
      }
    }
    const result = await Promise.all(
      rows.map(async ({ alias, upstream }) => {
        const probe = await byTarget.get(`${upstream.url}\u0000${upstream.apiKey ?? ''}`)!;
        return {
          alias,
          url: upstream.url,
          status: probe.isUp ? ('up' as const) : ('down' as const),
          latency_ms: probe.isUp ? probe.latencyMs : null,
        };
      }),
    );
    this.cached = { at: this.clock(), result };
    return result;
  }
}
