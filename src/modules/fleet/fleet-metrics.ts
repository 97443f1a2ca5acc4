import { Injectable, Logger, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { Gauge } from 'prom-client';
import { UpstreamLoadDto } from 'src/modules/fleet/dto/gpu-stats.dto';
import { GpuStat } from 'src/modules/fleet/gpu-report';
import { GpuReportEntity } from 'src/modules/fleet/gpu-report.entity';
import { FleetService } from 'src/modules/fleet/fleet.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';

const MIB = 1024 * 1024;
/** One /metrics scrape reads the fleet once: every gauge's `collect` shares the reading. */
const SNAPSHOT_REUSE_MS = 500;

type UpstreamLabels = 'model' | 'upstream';
type GpuLabels = 'node' | 'gpu';

/**
 * The fleet's figures as Prometheus gauges, filled at scrape time from the same sources as
 * `GET /api/gpu-stats`. Labels are nodes (plus the GPU index, at most 64 per node) and
 * upstreams (catalog alias and URL): bounded, since nodes silent for a day are dropped and
 * upstreams come from the catalog. Stale upstream figures are left out; their age is not.
 */
@Injectable()
export class FleetMetrics {
  private readonly logger = new Logger('fleet');
  private upstreamSnapshot: { at: number; rows: UpstreamLoadDto[] } | null = null;
  private nodeSnapshot: { at: number; rows: Promise<GpuReportEntity[]> } | null = null;

  constructor(
    metrics: MetricsService,
    private readonly fleet: FleetService,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    const registers = [metrics.registry];
    const readClock = this.clock;
    const upstreamGauge = (
      name: string,
      help: string,
      valueOf: (row: UpstreamLoadDto, now: number) => number | null,
      isStaleShown = false,
    ) => {
      const upstreams = () => this.upstreams();
      return new Gauge<UpstreamLabels>({
        name,
        help,
        labelNames: ['model', 'upstream'],
        registers,
        collect() {
          this.reset();
          const now = readClock();
          for (const row of upstreams()) {
            const value = row.stale && !isStaleShown ? null : valueOf(row, now);
            if (value !== null) {
              this.set({ model: row.alias, upstream: row.url }, value);
            }
          }
        },
      });
    };
    upstreamGauge(
      'parley_upstream_requests_running',
      'Requests the upstream runs (its metrics)',
      (r) => r.running,
    );
    upstreamGauge(
      'parley_upstream_requests_waiting',
      'Requests in the upstream queue',
      (r) => r.waiting,
    );
    upstreamGauge(
      'parley_upstream_kv_cache_usage_ratio',
      'Upstream KV-cache use, 0..1',
      (r) => r.kv_cache_usage,
    );
    upstreamGauge(
      'parley_upstream_prefix_cache_hit_ratio',
      'Upstream prefix-cache hit rate, 0..1',
      (r) => r.prefix_cache_hit_rate,
    );
    upstreamGauge('parley_upstream_ttft_p50_seconds', 'Upstream median time to first token', (r) =>
      r.ttft_p50_ms === null ? null : r.ttft_p50_ms / 1000,
    );
    upstreamGauge(
      'parley_upstream_load_age_seconds',
      "Age of the upstream's last load reading (stale past three FLEET_SCRAPE_SECS)",
      (r, now) => (r.scraped_at === null ? null : (now - Date.parse(r.scraped_at)) / 1000),
      true,
    );

    const nodes = () => this.nodes();
    const gpuGauge = (name: string, help: string, valueOf: (gpu: GpuStat) => number | null) =>
      new Gauge<GpuLabels>({
        name,
        help,
        labelNames: ['node', 'gpu'],
        registers,
        async collect() {
          const rows = await nodes();
          this.reset();
          for (const row of rows) {
            for (const gpu of row.gpus) {
              const value = valueOf(gpu);
              if (value !== null) {
                this.set({ node: row.node, gpu: String(gpu.index) }, value);
              }
            }
          }
        },
      });
    gpuGauge(
      'parley_gpu_utilization_percent',
      'GPU utilization as the node reported it',
      (g) => g.utilization_gpu,
    );
    gpuGauge('parley_gpu_memory_used_bytes', 'GPU memory in use', (g) => mib(g.memory_used_mib));
    gpuGauge('parley_gpu_memory_total_bytes', 'GPU memory', (g) => mib(g.memory_total_mib));
    gpuGauge('parley_gpu_temperature_celsius', 'GPU temperature', (g) => g.temperature_c);
    gpuGauge('parley_gpu_power_watts', 'GPU power draw', (g) => g.power_w);
    new Gauge<'node'>({
      name: 'parley_gpu_node_report_age_seconds',
      help: "Age of the node's last GPU report (nodes silent for a day are dropped)",
      labelNames: ['node'],
      registers,
      async collect() {
        const rows = await nodes();
        const now = readClock();
        this.reset();
        for (const row of rows) {
          this.set({ node: row.node }, (now - row.reportedAt) / 1000);
        }
      },
    });
  }

  private upstreams(): UpstreamLoadDto[] {
    const now = this.clock();
    if (!this.upstreamSnapshot || now - this.upstreamSnapshot.at > SNAPSHOT_REUSE_MS) {
      this.upstreamSnapshot = { at: now, rows: this.fleet.upstreams(now) };
    }
    return this.upstreamSnapshot.rows;
  }

  /** The stored reports, read once per scrape; an unreadable database exports no GPU figures. */
  private nodes(): Promise<GpuReportEntity[]> {
    const now = this.clock();
    if (!this.nodeSnapshot || now - this.nodeSnapshot.at > SNAPSHOT_REUSE_MS) {
      this.nodeSnapshot = {
        at: now,
        rows: this.fleet.nodes(now).catch((error) => {
          this.logger.warn(`GPU reports not readable for /metrics: ${String(error)}`);
          return [];
        }),
      };
    }
    return this.nodeSnapshot.rows;
  }
}

function mib(value: number | null): number | null {
  return value === null ? null : value * MIB;
}
