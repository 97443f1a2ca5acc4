import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';
import { GpuStat } from 'src/modules/fleet/gpu-report';

/** Epoch ms in a `bigint` column (`pg` returns BIGINT as a string; epoch ms stay below 2^53). */
const EPOCH_MS: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | number) => Number(value),
};

const GPUS_JSON: ValueTransformer = {
  to: (value: GpuStat[] | undefined) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: string) => JSON.parse(value) as GpuStat[],
};

/**
 * The last report of one GPU node (SPEC "Fleet"), one row per node, replaced by each report
 * (`GpuReportsRepository.upsert`). In the database so that every gateway instance serves it.
 */
@Entity({ name: 'gpu_reports' })
@Index('idx_gpu_reports_reported_at', ['reportedAt'])
export class GpuReportEntity {
  @PrimaryColumn({ type: 'varchar', length: 128, primaryKeyConstraintName: 'pk_gpu_reports' })
  node: string;

  /** The validated `gpus` array, as JSON. At most 64 entries of bounded size. */
  @Column({ type: 'text', transformer: GPUS_JSON })
  gpus: GpuStat[];

  /** When the gateway received the report (the node's clock is not trusted). */
  @Column({ type: 'bigint', transformer: EPOCH_MS })
  reportedAt: number;

  /** The node key that sent it. */
  @Column({ type: 'varchar', length: 36 })
  keyId: string;
}
