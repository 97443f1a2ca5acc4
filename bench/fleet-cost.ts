/**
 * What the fleet features cost next to a /v1 JSON request (issue #17: at most 2 % of its CPU).
 *
 *   npm run bench:fleet      (PICKS=200000 SCRAPES=300 UPSTREAMS=3 INTERVAL_SECS=5 by default)
 *
 * Measured in this process with process.cpuUsage():
 * - picking: `UpstreamPicker.pick` among three upstreams with fresh figures and a conversation
 *   key, including its `upstream pick` log line (pino, as the gateway writes it, to /dev/null);
 * - scraping: one reading of a vLLM-sized exposition (three models, every histogram, ~1,000
 *   lines) over real HTTP from a local server, parsed: the server's CPU is counted too, so the
 *   figure is an upper bound.
 * Compared with the CPU per /v1 JSON request of `npm run bench` (json-16, bench/results/latest.json):
 * picking is paid once per request; scraping UPSTREAMS / INTERVAL_SECS times per second, spread
 * over the requests of a second at the throughput that run measured.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from 'src/config/load-config';
import { createLogger } from 'src/common/logging/logger';
import { readVllmMetrics } from 'src/modules/fleet/load/load-figures';
import { MetricsFetcher } from 'src/modules/fleet/load/metrics-fetcher';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { UpstreamPicker } from 'src/modules/fleet/routing/upstream-picker';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { CatalogUpstream } from 'src/kernel/catalog-model';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';
import pino from 'pino';

const PICKS = Number(process.env.PICKS ?? 200_000);
const SCRAPES = Number(process.env.SCRAPES ?? 300);
const UPSTREAMS = Number(process.env.UPSTREAMS ?? 3);
const INTERVAL_SECS = Number(process.env.INTERVAL_SECS ?? 5);

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** A vLLM V1 /metrics for three models: every family it publishes has about this many lines. */
function vllmExposition(): string {
  const lines: string[] = [];
  const buckets = [
    '0.001',
    '0.005',
    '0.01',
    '0.02',
    '0.04',
    '0.06',
    '0.08',
    '0.1',
    '0.25',
    '0.5',
    '0.75',
    '1.0',
    '2.5',
    '5.0',
    '7.5',
    '10.0',
    '20.0',
    '40.0',
    '80.0',
    '160.0',
    '640.0',
    '2560.0',
    '+Inf',
  ];
  for (const model of ['llama-3.1-8b', 'qwen2.5-32b', 'mistral-small']) {
    const l = `engine="0",model_name="${model}"`;
    lines.push(`vllm:num_requests_running{${l}} 4.0`, `vllm:num_requests_waiting{${l}} 1.0`);
    lines.push(`vllm:kv_cache_usage_perc{${l}} 0.37`);
    lines.push(
      `vllm:prefix_cache_queries_total{${l}} 123456.0`,
      `vllm:prefix_cache_hits_total{${l}} 98765.0`,
    );
    for (const histogram of [
      'time_to_first_token_seconds',
      'e2e_request_latency_seconds',
      'request_queue_time_seconds',
      'request_inference_time_seconds',
      'request_prefill_time_seconds',
      'request_decode_time_seconds',
      'inter_token_latency_seconds',
      'request_prompt_tokens',
      'request_generation_tokens',
      'iteration_tokens_total',
      'request_params_max_tokens',
      'request_params_n',
    ]) {
      lines.push(`# HELP vllm:${histogram} Histogram.`, `# TYPE vllm:${histogram} histogram`);
      buckets.forEach((le, i) =>
        lines.push(`vllm:${histogram}_bucket{${l},le="${le}"} ${i * 10}.0`),
      );
      lines.push(`vllm:${histogram}_sum{${l}} 1234.5`, `vllm:${histogram}_count{${l}} 220.0`);
    }
    lines.push(
      `vllm:prompt_tokens_total{${l}} 9999999.0`,
      `vllm:generation_tokens_total{${l}} 888888.0`,
    );
  }
  for (let i = 0; i < 60; i++) {
    lines.push(`python_gc_objects_collected_total{generation="${i % 3}"} ${i}.0`);
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  const config = loadConfig({ FLEET_SCRAPE_SECS: String(INTERVAL_SECS) });
  const book = new UpstreamLoadBook(config);
  const picker = new UpstreamPicker(config, book, new UpstreamHealthBook(), new MetricsService());
  const candidates: { upstream: CatalogUpstream; inFlight: number }[] = [0, 1, 2].map((i) => ({
    upstream: {
      id: `bench#${i}`,
      url: `http://10.0.0.${i}:8000/v1`,
      format: 'openai',
      model: 'm',
      apiKeyEnv: null,
      apiKey: null,
    },
    inFlight: i,
  }));
  const log = createLogger(
    { level: 'info', content: false },
    pino.destination({ dest: '/dev/null', sync: false }),
  ).child({ reqId: 'req-1' });
  const refresh = () =>
    candidates.forEach((c, i) =>
      book.record(
        c.upstream.id,
        {
          running: 2,
          waiting: i % 2,
          kvCacheUsage: 0.3,
          prefixCacheHitRate: null,
          ttftP50Ms: null,
        },
        Date.now(),
      ),
    );
  refresh();
  // With a request's logger, as on the gateway: the pick binds its fields to that logger.
  const pickMany = (count: number) => {
    for (let i = 0; i < count; i++) {
      picker.pick('bench', candidates, null, { affinityKey: `conv-${i % 5000}`, log });
    }
  };
  pickMany(20_000);
  let since = process.cpuUsage();
  pickMany(PICKS);
  const pickUs = (cpuMs(since) * 1000) / PICKS;

  const text = vllmExposition();
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(text);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const fetcher = new MetricsFetcher();
  let memory = null;
  for (let i = 0; i < 20; i++) {
    memory = readVllmMetrics(
      (await fetcher.fetch(url, { timeoutMs: 2000, maxBytes: 4 << 20, authorization: null })).text,
      memory,
    ).memory;
  }
  since = process.cpuUsage();
  for (let i = 0; i < SCRAPES; i++) {
    const answer = await fetcher.fetch(url, {
      timeoutMs: 2000,
      maxBytes: 4 << 20,
      authorization: null,
    });
    memory = readVllmMetrics(answer.text, memory).memory;
  }
  const scrapeMs = cpuMs(since) / SCRAPES;
  await fetcher.onApplicationShutdown();
  server.close();

  const latest = JSON.parse(readFileSync(join(__dirname, 'results', 'latest.json'), 'utf8')) as {
    info?: { startedAt?: string; date?: string };
    results: { name: string; aggregate: { parley: { rps: number; cpuMsPerRequest: number } } }[];
  };
  const json16 = latest.results.find((r) => r.name === 'json-16')!.aggregate.parley;
  const scrapeCpuMsPerSecond = (scrapeMs * UPSTREAMS) / INTERVAL_SECS;
  const scrapePerRequestMs = scrapeCpuMsPerSecond / json16.rps;
  const totalMs = pickUs / 1000 + scrapePerRequestMs;
  const result = {
    exposition: { lines: text.split('\n').length - 1, bytes: Buffer.byteLength(text) },
    pickCpuUs: round(pickUs, 3),
    scrapeCpuMs: round(scrapeMs, 3),
    upstreams: UPSTREAMS,
    intervalSecs: INTERVAL_SECS,
    v1JsonCpuMsPerRequest: round(json16.cpuMsPerRequest, 4),
    v1JsonRps: Math.round(json16.rps),
    pickShare: pct(pickUs / 1000 / json16.cpuMsPerRequest),
    scrapeShare: pct(scrapePerRequestMs / json16.cpuMsPerRequest),
    totalShare: pct(totalMs / json16.cpuMsPerRequest),
    target: '<= 2 %',
    met: totalMs / json16.cpuMsPerRequest <= 0.02,
  };
  writeFileSync(
    join(__dirname, 'results', 'fleet-cost.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log(JSON.stringify(result, null, 2));
}

const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
