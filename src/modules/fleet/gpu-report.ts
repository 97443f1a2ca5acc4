import { ApiError } from 'src/common/errors/api-error';

/** Most GPUs one report may list (SPEC "Fleet"): more is a broken or hostile agent. */
export const MAX_GPUS_PER_REPORT = 64;
/** Fields a GPU entry may carry beyond the known ones (`…` in SPEC), each a number or a short string. */
const MAX_EXTRA_FIELDS = 16;
const MAX_TEXT = 256;

/** A host name, or any label an operator gives a node: it is a Prometheus label value too. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const EXTRA_FIELD_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** One GPU as the agent reports it; figures are null where the tool printed `[N/A]`. */
export interface GpuStat {
  index: number;
  uuid: string | null;
  name: string | null;
  utilization_gpu: number | null;
  memory_used_mib: number | null;
  memory_total_mib: number | null;
  temperature_c: number | null;
  power_w: number | null;
  [extra: string]: number | string | null;
}

export interface GpuReport {
  node: string;
  gpus: GpuStat[];
}

const NUMERIC_FIELDS = [
  'utilization_gpu',
  'memory_used_mib',
  'memory_total_mib',
  'temperature_c',
  'power_w',
] as const;
const TEXT_FIELDS = ['uuid', 'name'] as const;
const KNOWN = new Set<string>(['index', ...NUMERIC_FIELDS, ...TEXT_FIELDS]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (param: string, message: string) =>
  new ApiError('invalid_field', message, { param });

/**
 * Validates a `POST /api/gpu-stats` body and returns the report to store. Every refusal names
 * the offending path as `param` (`gpus[3].memory_used_mib`). Figures are finite numbers ≥ 0
 * or null (`[N/A]` in nvidia-smi becomes null in the agent).
 */
export function parseGpuReport(body: unknown): GpuReport {
  if (!isObject(body)) {
    throw invalid('body', 'The body must be a JSON object {node, gpus}');
  }
  const node = body.node;
  if (node === undefined || node === null) {
    throw new ApiError('missing_field', 'node is required', { param: 'node' });
  }
  if (typeof node !== 'string' || !NODE_NAME.test(node)) {
    throw invalid(
      'node',
      'node must be 1-128 characters: letters, digits and . _ : - (a letter or digit first)',
    );
  }
  const gpus = body.gpus;
  if (gpus === undefined || gpus === null) {
    throw new ApiError('missing_field', 'gpus is required (an array of GPUs)', {
      param: 'gpus',
    });
  }
  if (!Array.isArray(gpus)) {
    throw invalid('gpus', 'gpus must be an array of GPUs');
  }
  if (gpus.length > MAX_GPUS_PER_REPORT) {
    throw invalid('gpus', `gpus must list at most ${MAX_GPUS_PER_REPORT} GPUs`);
  }
  const seen = new Set<number>();
  return { node, gpus: gpus.map((gpu, i) => parseGpu(gpu, `gpus[${i}]`, seen)) };
}

function parseGpu(value: unknown, path: string, seen: Set<number>): GpuStat {
  if (!isObject(value)) {
    throw invalid(path, `${path} must be an object`);
  }
  const index = value.index;
  if (index === undefined || index === null) {
    throw new ApiError('missing_field', `${path}.index is required`, { param: `${path}.index` });
  }
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 1023) {
    throw invalid(`${path}.index`, `${path}.index must be an integer 0-1023`);
  }
  if (seen.has(index)) {
    throw invalid(`${path}.index`, `${path}.index ${index} is listed twice`);
  }
  seen.add(index);
  const gpu: GpuStat = {
    index,
    uuid: null,
    name: null,
    utilization_gpu: null,
    memory_used_mib: null,
    memory_total_mib: null,
    temperature_c: null,
    power_w: null,
  };
  for (const field of TEXT_FIELDS) {
    gpu[field] = readText(value[field], `${path}.${field}`);
  }
  for (const field of NUMERIC_FIELDS) {
    gpu[field] = readFigure(value[field], `${path}.${field}`);
  }
  let extras = 0;
  for (const [field, raw] of Object.entries(value)) {
    if (KNOWN.has(field)) {
      continue;
    }
    const at = `${path}.${field}`;
    if (!EXTRA_FIELD_NAME.test(field)) {
      throw invalid(at, `${at}: extra field names are lower-case snake_case`);
    }
    if (++extras > MAX_EXTRA_FIELDS) {
      throw invalid(at, `${path} may carry at most ${MAX_EXTRA_FIELDS} extra fields`);
    }
    gpu[field] = typeof raw === 'string' ? readText(raw, at) : readFigure(raw, at);
  }
  return gpu;
}

function readText(value: unknown, path: string): string | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'string' || value.length > MAX_TEXT) {
    throw invalid(path, `${path} must be a string of at most ${MAX_TEXT} characters`);
  }
  return value;
}

function readFigure(value: unknown, path: string): number | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(path, `${path} must be a number >= 0 or null`);
  }
  return value;
}
