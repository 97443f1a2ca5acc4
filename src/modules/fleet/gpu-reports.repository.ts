import { Injectable } from '@nestjs/common';
import { DataSource, MoreThan, LessThan, Repository } from 'typeorm';
import { GpuStat } from 'src/modules/fleet/gpu-report';
import { GpuReportEntity } from 'src/modules/fleet/gpu-report.entity';
import { quotedTable, SqlParams } from 'src/database/sql-text';

/** The last report of every node; one row per node. */
@Injectable()
export class GpuReportsRepository {
  private readonly rows: Repository<GpuReportEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.rows = dataSource.getRepository(GpuReportEntity);
  }

  /**
   * Replaces the node's report in one statement (`INSERT … ON CONFLICT DO UPDATE`, the same SQL
   * on SQLite and PostgreSQL), so concurrent instances never interleave half a report. A report
   * older than the stored one (two instances, clocks apart by a few ms) does not overwrite it.
   */
  async upsert(node: string, gpus: GpuStat[], reportedAt: number, keyId: string): Promise<void> {
    const params = new SqlParams(this.dataSource);
    const values = [node, JSON.stringify(gpus), reportedAt, keyId].map((v) => params.mark(v));
    await this.dataSource.query(
      `INSERT INTO ${quotedTable(this.dataSource, GpuReportEntity)} AS g
         (node, gpus, reported_at, key_id)
       VALUES (${values.join(', ')})
       ON CONFLICT (node) DO UPDATE SET
         gpus = excluded.gpus, reported_at = excluded.reported_at, key_id = excluded.key_id
       WHERE g.reported_at <= excluded.reported_at`,
      params.values,
    );
  }

  /** Whether the node has a report newer than `since` (it is then not a new node). */
  async isKnown(node: string, since: number): Promise<boolean> {
    return this.rows.exists({ where: { node, reportedAt: MoreThan(since) } });
  }

  /** Nodes that reported after `since`. */
  countSince(since: number): Promise<number> {
    return this.rows.count({ where: { reportedAt: MoreThan(since) } });
  }

  /** Reports newer than `since`, by node name, at most `limit`. */
  listSince(since: number, limit: number): Promise<GpuReportEntity[]> {
    return this.rows.find({
      where: { reportedAt: MoreThan(since) },
      order: { node: 'ASC' },
      take: limit,
    });
  }

  /** Forgets nodes silent since before `before`. */
  async deleteOlderThan(before: number): Promise<void> {
    await this.rows.delete({ reportedAt: LessThan(before) });
  }
}
