import type { GpuStat } from 'src/modules/fleet/gpu-report';

/**
 * Turns the GPU tools' output into the `gpus` entries of `POST /api/gpu-stats`. Pure functions:
 * the agent runs the tools, these only read their text.
 */

/** One GPU in the wire shape of SPEC "Fleet" (the gateway's own type); null where no figure. */
export type GpuEntry = GpuStat;

/** The query the agent runs; the order of fields is what `readNvidiaSmiCsv` expects. */
export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw',
  '--format=csv,noheader,nounits',
];

export const ROCM_SMI_ARGS = [
  '--showid',
  '--showuniqueid',
  '--showproductname',
  '--showuse',
  '--showmeminfo',
  'vram',
  '--showtemp',
  '--showpower',
  '--json',
];

/** `[N/A]`, `[Not Supported]`, empty or negative → null; a figure otherwise. */
function figure(raw: string | undefined): number | null {
  if (raw === undefined) {
    return null;
  }
  const value = Number(raw.trim());
  return raw.trim() !== '' && Number.isFinite(value) && value >= 0 ? value : null;
}

function text(raw: string | undefined): string | null {
  const value = raw?.trim();
  return value && !/^\[.*\]$/.test(value) ? value.slice(0, 256) : null;
}

/**
 * `nvidia-smi --query-gpu=… --format=csv,noheader,nounits`: one line per GPU, fields separated
 * by `, `. A GPU name may itself contain `, `: the fields around it are counted from both ends.
 * Lines that do not start with an index are skipped (driver warnings).
 */
export function readNvidiaSmiCsv(output: string): GpuEntry[] {
  const gpus: GpuEntry[] = [];
  for (const line of output.split('\n')) {
    const fields = line.trim().split(', ');
    if (fields.length < 8 || !/^\d+$/.test(fields[0])) {
      continue;
    }
    const tail = fields.slice(-5);
    gpus.push({
      index: Number(fields[0]),
      uuid: text(fields[1]),
      name: text(fields.slice(2, fields.length - 5).join(', ')),
      utilization_gpu: figure(tail[0]),
      memory_used_mib: figure(tail[1]),
      memory_total_mib: figure(tail[2]),
      temperature_c: figure(tail[3]),
      power_w: figure(tail[4]),
    });
  }
  return gpus;
}

const MIB = 1024 * 1024;

/**
 * `rocm-smi --json`: `{"card0": {"GPU use (%)": "12", "VRAM Total Memory (B)": "…", …}}`.
 * Field names vary between ROCm releases, so each figure is found by a pattern on its name.
 */
export function readRocmSmiJson(output: string, firstIndex = 0): GpuEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(output);
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) {
    return [];
  }
  const gpus: GpuEntry[] = [];
  for (const [card, value] of Object.entries(doc as Record<string, unknown>)) {
    const match = /^card(\d+)$/.exec(card);
    if (!match || typeof value !== 'object' || value === null) {
      continue;
    }
    const fields = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => [k, typeof v === 'string' || typeof v === 'number' ? String(v) : ''] as const,
    );
    const find = (pattern: RegExp) => fields.find(([k]) => pattern.test(k))?.[1];
    const bytes = (pattern: RegExp) => {
      const value = figure(find(pattern));
      return value === null ? null : Math.round(value / MIB);
    };
    gpus.push({
      index: firstIndex + Number(match[1]),
      uuid: text(find(/unique id/i)),
      name: text(find(/card series|product name|card model/i)),
      utilization_gpu: figure(find(/^gpu use \(%\)$/i)),
      memory_used_mib: bytes(/vram total used memory \(b\)/i),
      memory_total_mib: bytes(/vram total memory \(b\)/i),
      temperature_c: figure(find(/temperature.*(edge|junction)/i)),
      power_w: figure(find(/power.*\(w\)/i)),
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}
