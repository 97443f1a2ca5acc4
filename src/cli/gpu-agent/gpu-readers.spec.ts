import { readNvidiaSmiCsv, readRocmSmiJson } from 'src/cli/gpu-agent/gpu-readers';

describe(readNvidiaSmiCsv.name, () => {
  it('reads one GPU per line, [N/A] as null, a name with a comma whole', () => {
    const output = [
      '0, GPU-aaaa, NVIDIA H100 80GB HBM3, 87, 71234, 81559, 64, 412.50',
      '1, GPU-bbbb, NVIDIA RTX A6000, Ada, [N/A], 3, 49140, 31, [Not Supported]',
      'WARNING: infoROM is corrupted at gpu 0000:41:00.0',
      '',
    ].join('\n');
    expect(readNvidiaSmiCsv(output)).toEqual([
      {
        index: 0,
        uuid: 'GPU-aaaa',
        name: 'NVIDIA H100 80GB HBM3',
        utilization_gpu: 87,
        memory_used_mib: 71234,
        memory_total_mib: 81559,
        temperature_c: 64,
        power_w: 412.5,
      },
      {
        index: 1,
        uuid: 'GPU-bbbb',
        name: 'NVIDIA RTX A6000, Ada',
        utilization_gpu: null,
        memory_used_mib: 3,
        memory_total_mib: 49140,
        temperature_c: 31,
        power_w: null,
      },
    ]);
  });
});

describe(readRocmSmiJson.name, () => {
  it('finds the figures by their names, memory in MiB', () => {
    const output = JSON.stringify({
      card1: {
        'Unique ID': '0x18f68e602b8a790f',
        'Card series': 'AMD Instinct MI300X',
        'GPU use (%)': '12',
        'VRAM Total Memory (B)': String(192 * 1024 * 1024 * 1024),
        'VRAM Total Used Memory (B)': String(10 * 1024 * 1024),
        'Temperature (Sensor edge) (C)': '45.0',
        'Current Socket Graphics Package Power (W)': '310.0',
      },
      system: { 'Driver version': '6.7' },
    });
    expect(readRocmSmiJson(output, 2)).toEqual([
      {
        index: 3,
        uuid: '0x18f68e602b8a790f',
        name: 'AMD Instinct MI300X',
        utilization_gpu: 12,
        memory_used_mib: 10,
        memory_total_mib: 192 * 1024,
        temperature_c: 45,
        power_w: 310,
      },
    ]);
  });

  it('reads nothing from output that is not JSON', () => {
    expect(readRocmSmiJson('ERROR: GPU[0] : no such device')).toEqual([]);
  });
});
