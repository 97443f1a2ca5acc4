/**
 * What the benchmark measures: one entry per mode of issue 10, each saying which request
 * every target gets and which of the targets applies to it.
 */
import { Lease, RequestSpec, sendOnce } from './drive';

export type TargetName = 'direct' | 'floor' | 'parley';
export const TARGETS: TargetName[] = ['direct', 'floor', 'parley'];

export interface Endpoint {
  name: TargetName;
  origin: string;
  /** The proxy process to watch (CPU, RSS); null for the direct upstream. */
  pid: number | null;
}

/** A check from issue 10's "Targets", evaluated on a mode's aggregated figures. */
export interface TargetCheck {
  label: string;
  /** Which aggregated figure of `parley`: see `Aggregate` in report.ts. */
  metric: 'xFloor' | 'xDirect' | 'p50Added' | 'p99Added' | 'firstEventAdded' | 'cpuMsPerRequest';
  op: '>=' | '<=';
  value: number;
}

export interface LoadMode {
  kind: 'load';
  name: string;
  title: string;
  connections: number;
  stream: boolean;
  spec(target: TargetName): RequestSpec;
  checks: TargetCheck[];
  /** Runs once before the mode (seeding); its time is reported, not measured. */
  setup?(): Promise<string | void>;
  /** Runs before each round (fresh conversations for the continuing /c1 modes). */
  beforeRound?(round: number): Promise<void>;
  /** What a reader should know about how the mode is built. */
  notes: string[];
}

export interface MemoryMode {
  kind: 'memory';
  name: string;
  title: string;
  streams: number;
  stallMs: number;
  spec(target: TargetName): RequestSpec;
  notes: string[];
}

export type Mode = LoadMode | MemoryMode;

export interface ModeEnv {
  key: string;
  parleyOrigin: string;
  quick: boolean;
  /** Slow-stream pacing of the memory run. */
  slow: { chunkDelayMs: number; firstByteDelayMs: number };
}

/** The bootstrap key every Parley target is called with. */
export const BENCH_KEY = 'pk-bench-0123456789abcdef0123456789';

export const PACED_CHUNK_DELAY_MS = 5;

/** Upstream base paths (see bench/servers/upstream-server.ts) and Parley aliases for them. */
export function upstreamProfiles(slow: ModeEnv['slow']) {
  return {
    burst: { alias: 'bench-burst', base: '/v1' },
    paced: { alias: 'bench-paced', base: `/p/${PACED_CHUNK_DELAY_MS}/0/v1` },
    slow: { alias: 'bench-slow', base: `/p/${slow.chunkDelayMs}/${slow.firstByteDelayMs}/v1` },
  };
}

const SYSTEM = 'You are a concise assistant.';
const QUESTION = 'Explain in two sentences what an LLM gateway does.';

export const ALL_MODE_NAMES = [
  'json-16',
  'json-64',
  'sse-16',
  'sse-64',
  'sse-paced',
  'conc-1',
  'c1-new',
  'c1-conc-1',
  'c1-sse',
  'c1-10',
  'c1-100',
  'c1-1000',
  'responses-json',
  'responses-sse',
  'memory',
];

export function buildModes(env: ModeEnv): Mode[] {
  const profiles = upstreamProfiles(env.slow);
  const auth = { authorization: `Bearer ${env.key}`, 'content-type': 'application/json' };

  /** The same /v1 chat request for every target: direct and floor by path, Parley by alias. */
  const v1 =
    (profile: keyof typeof profiles, stream: boolean) =>
    (target: TargetName): RequestSpec => {
      const { alias, base } = profiles[profile];
      return {
        method: 'POST',
        path: target === 'parley' ? '/v1/chat/completions' : `${base}/chat/completions`,
        headers: auth,
        body: JSON.stringify({
          model: alias,
          messages: [
            { role: 'system', content: SYSTEM },
            { role: 'user', content: QUESTION },
          ],
          max_tokens: 256,
          temperature: 0.2,
          ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
        }),
        stream,
      };
    };

  const jsonMode = (connections: number, checks: TargetCheck[]): LoadMode => ({
    kind: 'load',
    name: connections === 1 ? 'conc-1' : `json-${connections}`,
    title: `/v1 JSON, ${connections} connection${connections === 1 ? '' : 's'}`,
    connections,
    stream: false,
    spec: v1('burst', false),
    checks,
    notes: [],
  });

  const sseMode = (connections: number, checks: TargetCheck[]): LoadMode => ({
    kind: 'load',
    name: `sse-${connections}`,
    title: `/v1 burst SSE (20 chunks at once), ${connections} connections`,
    connections,
    stream: true,
    spec: v1('burst', true),
    checks,
    notes: [],
  });

  const modes: Mode[] = [
    jsonMode(16, [
      { label: 'throughput >= 0.75x floor', metric: 'xFloor', op: '>=', value: 0.75 },
      { label: 'added p50 <= 1.5 ms', metric: 'p50Added', op: '<=', value: 1.5 },
      { label: 'CPU <= 0.15 ms/request', metric: 'cpuMsPerRequest', op: '<=', value: 0.15 },
    ]),
    jsonMode(64, [
      { label: 'throughput >= 0.75x floor', metric: 'xFloor', op: '>=', value: 0.75 },
      { label: 'CPU <= 0.15 ms/request', metric: 'cpuMsPerRequest', op: '<=', value: 0.15 },
    ]),
    sseMode(16, [
      { label: 'throughput >= 0.8x floor', metric: 'xFloor', op: '>=', value: 0.8 },
      {
        label: 'first event <= 2.5 ms later than direct',
        metric: 'firstEventAdded',
        op: '<=',
        value: 2.5,
      },
    ]),
    sseMode(64, [{ label: 'throughput >= 0.8x floor', metric: 'xFloor', op: '>=', value: 0.8 }]),
    {
      kind: 'load',
      name: 'sse-paced',
      title: `/v1 paced SSE (20 chunks, ${PACED_CHUNK_DELAY_MS} ms apart), 16 connections`,
      connections: 16,
      stream: true,
      spec: v1('paced', true),
      checks: [
        { label: 'throughput >= 0.98x direct', metric: 'xDirect', op: '>=', value: 0.98 },
        { label: 'first event <= 2 ms later', metric: 'firstEventAdded', op: '<=', value: 2 },
        { label: 'p99 <= 5 ms later', metric: 'p99Added', op: '<=', value: 5 },
      ],
      notes: [],
    },
    jsonMode(1, [
      { label: 'added p50 <= 0.5 ms', metric: 'p50Added', op: '<=', value: 0.5 },
      { label: 'added p99 <= 1.5 ms', metric: 'p99Added', op: '<=', value: 1.5 },
    ]),
    c1NewMode(16, [C1_CHECK], v1('burst', false), auth),
    c1NewMode(1, [C1_CONC_1_CHECK], v1('burst', false), auth),
    c1NewMode(16, [], v1('burst', true), auth, true),
    ...[10, 100, 1000].map((turns) => c1ContinueMode(env, turns, v1('burst', false), auth)),
    responsesMode(false, v1('burst', false), auth),
    responsesMode(true, v1('burst', true), auth),
    {
      kind: 'memory',
      name: 'memory',
      title: `1,000 concurrent slow streams (first byte after ${env.slow.firstByteDelayMs} ms, 20 chunks ${env.slow.chunkDelayMs} ms apart)`,
      streams: 1000,
      stallMs: Math.max(2000, 4 * env.slow.chunkDelayMs, 2 * env.slow.firstByteDelayMs),
      spec: v1('slow', true),
      notes: [
        'Parley is restarted before this mode (same database), so the RSS is that of holding the streams, not the heap grown by earlier modes.',
      ],
    },
  ];
  return modes;
}

const C1_CHECK: TargetCheck = {
  label: "turn throughput >= 0.5x floor's /v1 JSON",
  metric: 'xFloor',
  op: '>=',
  value: 0.5,
};

const C1_CONC_1_CHECK: TargetCheck = {
  label: 'added p50 <= 1 ms',
  metric: 'p50Added',
  op: '<=',
  value: 1,
};

/**
 * /c1 turns on new conversations; direct and floor run the same /v1 request for the
 * comparison. At one connection (`c1-conc-1`) it measures the latency a turn adds, stores
 * included; streamed (`c1-sse`) it is what `responses-sse` is read against.
 */
function c1NewMode(
  connections: number,
  checks: TargetCheck[],
  v1Chat: (target: TargetName) => RequestSpec,
  auth: Record<string, string>,
  stream = false,
): LoadMode {
  return {
    kind: 'load',
    name: stream ? 'c1-sse' : connections === 1 ? 'c1-conc-1' : 'c1-new',
    title: `/c1 ${stream ? 'streamed ' : ''}turn on a new conversation, ${connections} connection${connections === 1 ? '' : 's'} (direct and floor: /v1 ${stream ? 'SSE' : 'JSON'})`,
    connections,
    stream,
    spec: (target) =>
      target === 'parley'
        ? {
            method: 'POST',
            path: '/c1/chat/completions',
            headers: auth,
            body: JSON.stringify({
              model: 'bench-burst',
              messages: [{ role: 'user', content: QUESTION }],
              max_tokens: 256,
              ...(stream ? { stream: true } : {}),
            }),
            stream,
          }
        : v1Chat(target),
    checks,
    notes: [],
  };
}

/**
 * `POST /v1/responses` turns on new conversations (stored, as `/c1` turns are), JSON or typed
 * SSE events; direct and floor run the /v1 chat request for the comparison. Its cost per
 * request is read against the /c1 turn of the same form: `c1-new`'s for JSON, `c1-sse`'s for
 * SSE (issue 15: within 1.2x).
 */
function responsesMode(
  stream: boolean,
  v1Chat: (target: TargetName) => RequestSpec,
  auth: Record<string, string>,
): LoadMode {
  return {
    kind: 'load',
    name: stream ? 'responses-sse' : 'responses-json',
    title: `/v1/responses ${stream ? 'SSE' : 'JSON'} on a new conversation, 16 connections (direct and floor: /v1 chat)`,
    connections: 16,
    stream,
    spec: (target) =>
      target === 'parley'
        ? {
            method: 'POST',
            path: '/v1/responses',
            headers: auth,
            body: JSON.stringify({
              model: 'bench-burst',
              instructions: SYSTEM,
              input: QUESTION,
              max_output_tokens: 256,
              ...(stream ? { stream: true } : {}),
            }),
            stream,
            streamEnd: 'event: response.completed',
          }
        : v1Chat(target),
    checks: [C1_CHECK],
    notes: [
      `Compare its CPU ms/request with ${stream ? 'c1-sse' : 'c1-new'}'s: a response is a /c1 turn in other shapes.`,
    ],
  };
}

/**
 * /c1 turns on conversations that already hold `turns` turns. One base conversation is seeded
 * through the API (turn after turn, not measured), then before every round it is forked many
 * times at its `turns`-th answer (a fork is one row pointing at that message), so each round
 * starts on conversations of exactly `turns` turns. A request leases a fork until its answer
 * arrives, so no two requests hit one conversation at once (that would be a 409
 * `conversation_busy`), and each fork grows by only a few turns during a round. Most measured
 * turns are a fork's first: their history is the base conversation's, which the gateway's
 * history cache holds (forks share it) unless `BENCH_HISTORY_CACHE_BYTES=0` turns the cache
 * off, which measures the database read path (a restart, another instance).
 */
function c1ContinueMode(
  env: ModeEnv,
  turns: number,
  v1Json: (target: TargetName) => RequestSpec,
  auth: Record<string, string>,
): LoadMode {
  const forksPerRound = env.quick ? 128 : 1024;
  /** Conversations not in use, oldest first; a request leases one until its answer. */
  let free: string[] = [];
  let base: { conversationId: string; messageId: string } | null = null;
  const lease = (): Lease => {
    const id = free.shift();
    if (id === undefined) {
      throw new Error(`c1-${turns}: every conversation of the pool is in use`);
    }
    let isReleased = false;
    return {
      headers: { 'x-conversation-id': id },
      release: () => {
        if (!isReleased) {
          isReleased = true;
          free.push(id);
        }
      },
    };
  };
  const notes = [
    `Each round runs on ${forksPerRound} fresh forks of one seeded conversation of ${turns} turns, each leased to one request at a time, least recently used first.`,
    process.env.BENCH_HISTORY_CACHE_BYTES === '0'
      ? "Gateway's history cache off (BENCH_HISTORY_CACHE_BYTES=0): every history is read from the database, as after a restart or on another instance."
      : "Most turns are a fork's first: the history is the seeded conversation's, shared by its forks in the gateway's history cache (BENCH_HISTORY_CACHE_BYTES=0 measures the database read instead).",
  ];
  const mode: LoadMode = {
    kind: 'load',
    name: `c1-${turns}`,
    title: `/c1 turn continuing a conversation of ${turns} stored turns, 16 connections (direct and floor: /v1 JSON)`,
    connections: 16,
    stream: false,
    spec: (target) =>
      target === 'parley'
        ? {
            method: 'POST',
            path: '/c1/chat/completions',
            headers: auth,
            body: JSON.stringify({
              model: 'bench-burst',
              messages: [{ role: 'user', content: QUESTION }],
              max_tokens: 256,
            }),
            stream: false,
            lease,
          }
        : v1Json(target),
    checks: [C1_CHECK],
    notes,
    setup: async () => {
      base = await seededConversation(env, auth, turns);
      return `seeded a conversation of ${turns} turns`;
    },
    beforeRound: async () => {
      if (!base) {
        throw new Error(`c1-${turns}: setup did not run`);
      }
      free = await forkMany(env, auth, base, forksPerRound);
    },
  };
  return mode;
}

/**
 * One conversation of `maxTurns` turns, shared by the continuing modes: it is built once, up to
 * the largest level asked for, and each level forks it at its own turn.
 */
const seeded: { conversationId: string; answerIds: string[] } = {
  conversationId: '',
  answerIds: [],
};

async function post(env: ModeEnv, auth: Record<string, string>, path: string, body: unknown) {
  const res = await sendOnce(env.parleyOrigin, {
    method: 'POST',
    path,
    headers: auth,
    body: JSON.stringify(body),
  });
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`POST ${path} → ${res.status} ${res.text.slice(0, 500)}`);
  }
  return { headers: res.headers, body: JSON.parse(res.text) };
}

async function seededConversation(
  env: ModeEnv,
  auth: Record<string, string>,
  turns: number,
): Promise<{ conversationId: string; messageId: string }> {
  while (seeded.answerIds.length < turns) {
    const turn = seeded.answerIds.length + 1;
    const res = await post(
      env,
      { ...auth, ...(seeded.conversationId ? { 'x-conversation-id': seeded.conversationId } : {}) },
      '/c1/chat/completions',
      {
        model: 'bench-burst',
        messages: [{ role: 'user', content: `Seed turn ${turn}: ${QUESTION}` }],
        max_tokens: 256,
      },
    );
    seeded.conversationId ||= String(res.headers['x-conversation-id'] ?? res.body.conversation_id);
    seeded.answerIds.push('');
  }
  if (!seeded.answerIds[turns - 1]) {
    await readAnswerIds(env, auth);
  }
  return { conversationId: seeded.conversationId, messageId: seeded.answerIds[turns - 1] };
}

async function readAnswerIds(env: ModeEnv, auth: Record<string, string>): Promise<void> {
  const res = await sendOnce(env.parleyOrigin, {
    method: 'GET',
    path: `/c1/conversations/${seeded.conversationId}`,
    headers: { authorization: auth.authorization },
  });
  if (res.status !== 200) {
    throw new Error(`GET conversation → ${res.status} ${res.text.slice(0, 500)}`);
  }
  const messages: { id: string; role: string }[] = JSON.parse(res.text).messages;
  const answers = messages.filter((m) => m.role === 'assistant').map((m) => m.id);
  for (let i = 0; i < seeded.answerIds.length; i++) {
    seeded.answerIds[i] = answers[i] ?? '';
  }
}

async function forkMany(
  env: ModeEnv,
  auth: Record<string, string>,
  base: { conversationId: string; messageId: string },
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  const worker = async () => {
    while (ids.length < count) {
      ids.push('');
      const slot = ids.length - 1;
      const res = await post(env, auth, `/c1/conversations/${base.conversationId}/fork`, {
        message_id: base.messageId,
      });
      ids[slot] = String(res.body.id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

/** The MODELS_FILE of a benchmarked gateway: one alias per upstream profile. */
export function benchCatalog(
  upstreamOrigin: string,
  slow: { chunkDelayMs: number; firstByteDelayMs: number },
) {
  return {
    models: Object.values(upstreamProfiles(slow)).map(({ alias, base }) => ({
      alias,
      upstreams: [
        { url: `${upstreamOrigin}${base}`, format: 'openai', model: 'bench-upstream-model' },
      ],
      constraints: {
        min_max_tokens: 1,
        max_output_tokens: 8192,
        context_window: 131072,
        accepts_image_url: false,
        accepts_images: false,
        typical_response_seconds: 5,
      },
    })),
  };
}

/** A benchmarked gateway's settings: its own SQLite file; the limiter on but never refusing. */
export function benchGatewayEnv(
  sqliteFile: string,
  modelsFile: string,
  logLevel: string,
): Record<string, string> {
  return {
    DATABASE_URL: `sqlite:${sqliteFile}`,
    MODELS_FILE: modelsFile,
    BOOTSTRAP_API_KEY: BENCH_KEY,
    ADMIN_TOKEN: 'admin-bench-0123456789abcdef',
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000000',
    AUTH_FAILURES_PER_MINUTE: '1000000',
    LOG_LEVEL: logLevel,
    SHUTDOWN_GRACE_SECS: '2',
  };
}
