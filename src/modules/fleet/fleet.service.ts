import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { redactUrl } from 'src/common/logging/upstream-failure';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import {
  GpuNodeDto,
  GpuReportAcceptedDto,
  GpuStatsResponseDto,
  UpstreamLoadDto,
} from 'src/modules/fleet/dto/gpu-stats.dto';
import { parseGpuReport } from 'src/modules/fleet/gpu-report';
import { GpuReportEntity } from 'src/modules/fleet/gpu-report.entity';
import { GpuReportsRepository } from 'src/modules/fleet/gpu-reports.repository';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';

/** A node silent this long is forgotten: not listed, not exported, its row deleted. */
export const NODE_FORGET_MS = 24 * 60 * 60 * 1000;
/** Distinct nodes kept: a node key sending made-up names cannot grow the table without bound. */
export const MAX_NODES = 1024;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

const iso = (ms: number) => new Date(ms).toISOString();

/** GPU node reports (stored, shared by every instance) and the upstream load view (SPEC "Fleet"). */
@Injectable()
export class FleetService {
  private readonly nodeStaleMs: number;
  private prunedAt = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reports: GpuReportsRepository,
    private readonly catalog: ModelCatalog,
    private readonly load: UpstreamLoadBook,
    private readonly health: UpstreamHealthBook,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.nodeStaleMs = config.fleet.nodeStaleMs;
  }

  /**
   * Validates and stores one node's report, replacing its previous one. 400 `missing_field` /
   * `invalid_field` with the path of the first bad value; 400 `invalid_field` (`node`) for a
   * new node beyond MAX_NODES.
   */
  async report(key: AuthContext, body: unknown): Promise<GpuReportAcceptedDto> {
    const report = parseGpuReport(body);
    const now = this.clock();
    const since = now - NODE_FORGET_MS;
    if (
      !(await this.reports.isKnown(report.node, since)) &&
      (await this.reports.countSince(since)) >= MAX_NODES
    ) {
      throw new ApiError(
        'invalid_field',
        `At most ${MAX_NODES} nodes are kept; nodes silent for a day are forgotten`,
        { param: 'node' },
      );
    }
    await this.reports.upsert(report.node, report.gpus, now, key.keyId);
    if (now - this.prunedAt > PRUNE_EVERY_MS) {
      this.prunedAt = now;
      await this.reports.deleteOlderThan(since);
    }
    return { node: report.node, gpus: report.gpus.length, reported_at: iso(now) };
  }

  /** Nodes heard from within a day. */
  async nodes(now = this.clock()): Promise<GpuReportEntity[]> {
    return this.reports.listSince(now - NODE_FORGET_MS, MAX_NODES);
  }

  async snapshot(): Promise<GpuStatsResponseDto> {
    const now = this.clock();
    const nodes: GpuNodeDto[] = (await this.nodes(now)).map((row) => ({
      node: row.node,
      reported_at: iso(row.reportedAt),
      stale: now - row.reportedAt > this.nodeStaleMs,
      gpus: row.gpus,
    }));
    return { nodes, upstreams: this.upstreams(now) };
  }

  /** Every network upstream of the catalog with its last figures. */
  upstreams(now = this.clock()): UpstreamLoadDto[] {
    const rows: UpstreamLoadDto[] = [];
    for (const model of this.catalog.list()) {
      for (const upstream of model.upstreams) {
        if (upstream.builtin) {
          continue;
        }
        const load = this.load.get(upstream.id);
        const isStale = this.load.isStale(load, now);
        const health = this.health.get(upstream.id).status;
        rows.push({
          alias: model.alias,
          url: redactUrl(upstream.url),
          status: isStale ? health : 'up',
          running: load.running,
          waiting: load.waiting,
          kv_cache_usage: load.kvCacheUsage,
          prefix_cache_hit_rate: load.prefixCacheHitRate,
          ttft_p50_ms: load.ttftP50Ms,
          scraped_at: load.scrapedAt === null ? null : iso(load.scrapedAt),
          stale: isStale,
          last_error: load.lastError,
        });
      }
    }
    return rows;
  }
}
