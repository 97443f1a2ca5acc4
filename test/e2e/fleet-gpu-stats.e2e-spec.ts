import { expectApiError } from 'test/support/expect-api-error';
import { parseMetrics } from 'test/support/metrics';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

const gpu = (index: number, over: Record<string, unknown> = {}) => ({
  index,
  uuid: `GPU-${index}-5d7c`,
  name: 'NVIDIA H100 80GB HBM3',
  utilization_gpu: 87,
  memory_used_mib: 71234,
  memory_total_mib: 81559,
  temperature_c: 64,
  power_w: 412.5,
  ...over,
});

describe('/api/gpu-stats', () => {
  let a: TestGateway;
  let b: TestGateway;
  let nodeKey: string;

  beforeAll(async () => {
    a = await startGateway({ env: { FLEET_NODE_STALE_SECS: '1' } });
    // A second instance on the same database: reports are served by every instance.
    b = await startGateway({ databaseUrl: a.databaseUrl, env: { FLEET_NODE_STALE_SECS: '1' } });
    nodeKey = (await createKey(a, { name: 'agent', user_id: 'fleet', role: 'node' })).key;
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const report = (gw: TestGateway, body: unknown, key: string | null = nodeKey) =>
    gw.post('/api/gpu-stats', body, { key });

  it('stores a node report that every instance then serves, fresh', async () => {
    const res = await report(a, { node: 'gpu-node-1', gpus: [gpu(0), gpu(1, { power_w: null })] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ node: 'gpu-node-1', gpus: 2, reported_at: expect.any(String) });

    const seen = await b.admin('GET', '/api/gpu-stats');
    expect(seen.status).toBe(200);
    const node = seen.body.nodes.find((n: any) => n.node === 'gpu-node-1');
    expect(node).toEqual({
      node: 'gpu-node-1',
      reported_at: res.body.reported_at,
      stale: false,
      gpus: [gpu(0), gpu(1, { power_w: null })],
    });
    expect(seen.body.upstreams).toEqual([]);
  });

  it('replaces a node report with its next one, from any instance', async () => {
    await report(a, { node: 'gpu-node-2', gpus: [gpu(0, { utilization_gpu: 10 })] });
    await report(b, { node: 'gpu-node-2', gpus: [gpu(0, { utilization_gpu: 55 }), gpu(1)] });
    const seen = await a.admin('GET', '/api/gpu-stats');
    const node = seen.body.nodes.find((n: any) => n.node === 'gpu-node-2');
    expect(node.gpus.map((g: any) => g.utilization_gpu)).toEqual([55, 87]);
  });

  it('keeps extra numeric and text GPU fields the agent sends', async () => {
    await report(a, { node: 'gpu-node-x', gpus: [gpu(0, { fan_speed: 40, pstate: 'P0' })] });
    const seen = await a.admin('GET', '/api/gpu-stats');
    const node = seen.body.nodes.find((n: any) => n.node === 'gpu-node-x');
    expect(node.gpus[0]).toMatchObject({ fan_speed: 40, pstate: 'P0' });
  });

  it('refuses a missing key 401, a wrong key 401, and a non-node key 403', async () => {
    const body = { node: 'n', gpus: [] };
    expectApiError(await report(a, body, null), 401, 'missing_authorization');
    expectApiError(
      await report(a, body, 'pk-not-a-key-0123456789abcdef'),
      401,
      'invalid_authorization',
    );
    expectApiError(await report(a, body, TEST_API_KEY), 403, 'node_role_required', {
      param: null,
    });
    const service = await createKey(a, { name: 'svc', user_id: 'svc', role: 'service' });
    expectApiError(await report(a, body, service.key), 403, 'node_role_required');
  });

  it('lets a node key do nothing but report', async () => {
    expectApiError(await a.get('/v1/models', { key: nodeKey }), 403, 'model_access_denied');
    expectApiError(
      await a.post('/v1/chat/completions', { model: 'echo', messages: [] }, { key: nodeKey }),
      403,
      'model_access_denied',
    );
    expectApiError(await a.get('/c1/conversations', { key: nodeKey }), 403, 'model_access_denied');
    // Operator routes take the admin token only.
    expectApiError(await a.get('/api/gpu-stats', { key: nodeKey }), 401, 'invalid_authorization');
    expectApiError(await a.get('/api/keys', { key: nodeKey }), 401, 'invalid_authorization');
  });

  it.each([
    [{ gpus: [] }, 'missing_field', 'node'],
    [{ node: 'n1' }, 'missing_field', 'gpus'],
    [{ node: 'n1', gpus: null }, 'missing_field', 'gpus'],
    [{ node: 'n1', gpus: { 0: gpu(0) } }, 'invalid_field', 'gpus'],
    [{ node: 'n1', gpus: Array.from({ length: 65 }, (_, i) => gpu(i)) }, 'invalid_field', 'gpus'],
    [
      { node: 'n1', gpus: [gpu(0), gpu(1), gpu(2), gpu(3, { memory_used_mib: '71234' })] },
      'invalid_field',
      'gpus[3].memory_used_mib',
    ],
    [{ node: 'n1', gpus: [gpu(0, { power_w: -1 })] }, 'invalid_field', 'gpus[0].power_w'],
    [{ node: 'n1', gpus: [gpu(0), gpu(0)] }, 'invalid_field', 'gpus[1].index'],
    [{ node: 'n1', gpus: [gpu(0, { index: 1.5 })] }, 'invalid_field', 'gpus[0].index'],
    [{ node: 'n1', gpus: [{ name: 'x' }] }, 'missing_field', 'gpus[0].index'],
    [{ node: 'n1', gpus: ['GPU 0'] }, 'invalid_field', 'gpus[0]'],
    [{ node: 'n1', gpus: [gpu(0, { name: 'x'.repeat(300) })] }, 'invalid_field', 'gpus[0].name'],
    [{ node: 'n1', gpus: [gpu(0, { 'Bad-Field': 1 })] }, 'invalid_field', 'gpus[0].Bad-Field'],
    [{ node: '../etc/passwd', gpus: [] }, 'invalid_field', 'node'],
    [{ node: 'x'.repeat(129), gpus: [] }, 'invalid_field', 'node'],
    [{ node: 42, gpus: [] }, 'invalid_field', 'node'],
    [[gpu(0)], 'invalid_field', 'body'],
  ] as const)('refuses %j with 400 %s param %s', async (body, code, param) => {
    expectApiError(await report(a, body), 400, code, { param });
  });

  it('keeps the stored report when a bad one arrives', async () => {
    await report(a, { node: 'gpu-node-3', gpus: [gpu(0, { utilization_gpu: 33 })] });
    const bad = await report(a, { node: 'gpu-node-3', gpus: [gpu(0, { utilization_gpu: 'hot' })] });
    expectApiError(bad, 400, 'invalid_field', { param: 'gpus[0].utilization_gpu' });
    const seen = await a.admin('GET', '/api/gpu-stats');
    const node = seen.body.nodes.find((n: any) => n.node === 'gpu-node-3');
    expect(node.gpus[0].utilization_gpu).toBe(33);
  });

  it('marks a node stale once it has been silent for FLEET_NODE_STALE_SECS', async () => {
    await report(a, { node: 'gpu-node-quiet', gpus: [gpu(0)] });
    await sleep(1_300);
    const seen = await b.admin('GET', '/api/gpu-stats');
    expect(seen.body.nodes.find((n: any) => n.node === 'gpu-node-quiet').stale).toBe(true);
  });

  it('answers 401 to GET without the admin token', async () => {
    expectApiError(await a.get('/api/gpu-stats', { key: null }), 401, 'missing_authorization');
  });

  it('exports the GPU figures as gauges labelled by node and GPU', async () => {
    await report(a, { node: 'gpu-node-m', gpus: [gpu(0, { utilization_gpu: 91 }), gpu(1)] });
    const scrape = parseMetrics((await b.get('/metrics', { key: null })).text);
    expect(scrape.value('parley_gpu_utilization_percent', { node: 'gpu-node-m', gpu: '0' })).toBe(
      91,
    );
    expect(scrape.value('parley_gpu_memory_total_bytes', { node: 'gpu-node-m', gpu: '1' })).toBe(
      81559 * 1024 * 1024,
    );
    const ages = scrape.samples.filter((s) => s.name === 'parley_gpu_node_report_age_seconds');
    expect(ages.map((s) => s.labels.node)).toContain('gpu-node-m');
    expect(ages.every((s) => Object.keys(s.labels).join() === 'node')).toBe(true);
  });

  it('lists node as a key role in the keys API', async () => {
    const res = await a.admin('POST', '/api/keys', { name: 'x', user_id: 'x', role: 'root' });
    expectApiError(res, 400, 'invalid_field', { param: 'role' });
    const created = await a.admin('POST', '/api/keys', { name: 'y', user_id: 'y', role: 'node' });
    expect(created.body.role).toBe('node');
  });
});
