import {
  LoadReadError,
  readLoadReportHeader,
  readOllamaPs,
  readVllmMetrics,
} from 'src/modules/fleet/load/load-figures';

const M = 'model_name="meta-llama/Llama-3.1-8B-Instruct"';

/** A vLLM V1 exposition with the families Parley reads, plus noise it must skip. */
function exposition(
  over: { waiting?: string; running?: string; kv?: string; extra?: string[] } = {},
) {
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{engine="0",${M}} ${over.running ?? '3.0'}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{engine="0",${M}} ${over.waiting ?? '2.0'}`,
    `vllm:kv_cache_usage_perc{engine="0",${M}} ${over.kv ?? '0.42'}`,
    `vllm:prefix_cache_queries_total{engine="0",${M}} 1000.0`,
    `vllm:prefix_cache_hits_total{engine="0",${M}} 600.0`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",${M}} 10.0`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",${M}} 30.0`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="1.0",${M}} 40.0`,
    `vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",${M}} 40.0`,
    `vllm:iteration_tokens_total_bucket{le="1.0",${M}} 3.0`,
    'process_cpu_seconds_total 12.5',
    ...(over.extra ?? []),
    '',
  ].join('\n');
}

describe(readVllmMetrics.name, () => {
  it('reads queues, KV-cache use, prefix hit rate and the TTFT median', () => {
    const { figures } = readVllmMetrics(exposition(), null);
    expect(figures).toEqual({
      running: 3,
      waiting: 2,
      kvCacheUsage: 0.42,
      prefixCacheHitRate: 0.6,
      // Rank 20 of 40 lies halfway through the 0.1-0.5 s bucket (10 → 30).
      ttftP50Ms: 300,
    });
  });

  it('turns counters into the rate since the previous reading', () => {
    const first = readVllmMetrics(exposition(), null);
    const later = exposition()
      .replace(
        'queries_total{engine="0",' + M + '} 1000.0',
        `queries_total{engine="0",${M}} 1100.0`,
      )
      .replace('hits_total{engine="0",' + M + '} 600.0', `hits_total{engine="0",${M}} 690.0`);
    expect(readVllmMetrics(later, first.memory).figures.prefixCacheHitRate).toBeCloseTo(0.9);
  });

  it('reads the names of older vLLM versions', () => {
    const text = [
      `vllm:num_requests_running{${M}} 1.0`,
      `vllm:num_requests_waiting{${M}} 0.0`,
      `vllm:gpu_cache_usage_perc{${M}} 0.25`,
      `vllm:gpu_prefix_cache_hit_rate{${M}} 0.5`,
    ].join('\n');
    expect(readVllmMetrics(text, null).figures).toEqual({
      running: 1,
      waiting: 0,
      kvCacheUsage: 0.25,
      prefixCacheHitRate: 0.5,
      ttftP50Ms: null,
    });
  });

  it('sums the queues of several models on one server', () => {
    const text = exposition({
      extra: ['vllm:num_requests_waiting{engine="0",model_name="other"} 5.0'],
    });
    expect(readVllmMetrics(text, null).figures.waiting).toBe(7);
  });

  it.each([
    ['NaN queue', exposition({ waiting: 'NaN' })],
    ['negative queue', exposition({ waiting: '-3.0' })],
    ['infinite queue', exposition({ running: '+Inf' })],
    ['KV use above 1', exposition({ kv: '42' })],
    ['a value that is not a number', exposition({ waiting: 'lots' })],
    ['unterminated labels', exposition({ extra: ['vllm:num_requests_waiting{model_name="x" 1'] })],
    ['no vLLM figures', 'process_cpu_seconds_total 12.5\n'],
    ['HTML', '<html><body>Not Found</body></html>'],
    ['JSON', '{"waiting": 0}'],
    ['an empty answer', ''],
    [
      'a histogram that is not cumulative',
      exposition({ extra: [`vllm:time_to_first_token_seconds_bucket{le="2.0",${M}} 5.0`] }),
    ],
  ])('refuses %s', (_, text) => {
    expect(() => readVllmMetrics(text, null)).toThrow(LoadReadError);
  });
});

describe(readLoadReportHeader.name, () => {
  it.each([
    [
      'TEXT named_metrics.kv_cache_usage_perc=0.4, named_metrics.num_requests_waiting=2.0',
      { waiting: 2, kvCacheUsage: 0.4 },
    ],
    ['JSON {"named_metrics": {"num_requests_waiting": 5.0}}', { waiting: 5, kvCacheUsage: null }],
    ['TEXT named_metrics.num_requests_waiting=-1.0', null],
    ['TEXT named_metrics.kv_cache_usage_perc=NaN', null],
    ['TEXT cpu_utilization=0.3', null],
    ['JSON {not json', null],
    ['BINARY abc', null],
  ])('reads %j', (header, expected) => {
    expect(readLoadReportHeader(header)).toEqual(expected);
  });
});

describe(readOllamaPs.name, () => {
  it('accepts a models list and yields no queue figures', () => {
    expect(
      readOllamaPs('{"models":[{"name":"llama3:8b","size_vram":5000000000}]}').waiting,
    ).toBeNull();
  });

  it('refuses anything else', () => {
    expect(() => readOllamaPs('<html>')).toThrow(LoadReadError);
    expect(() => readOllamaPs('{"models": 3}')).toThrow(LoadReadError);
  });
});
