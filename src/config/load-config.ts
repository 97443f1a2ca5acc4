import { ENV_SCHEMA, EnvError, EnvValues } from 'src/config/env.schema';

export interface AppConfig {
  http: {
    host: string;
    port: number;
    maxBodyBytes: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxInFlight: number;
    maxUnauthenticatedInFlight: number;
    minBodyBytesPerSec: number;
    maxConnections: number;
    maxConnectionsPerAddress: number;
    shutdownGraceMs: number;
    /** Fastify's `trustProxy`: the proxies whose X-Forwarded-For is believed, or null. */
    trustProxy: string | null;
  };
  db: { url: string; poolMax: number; statementTimeoutMs: number };
  conversations: { historyCacheBytes: number };
  /** Retention (issue #19): `ttlMs` null keeps conversations forever. */
  history: { ttlMs: number | null; sweepIntervalMs: number };
  policy: { file: string | null };
  responses: { backgroundStaleMs: number; backgroundMaxRuns: number };
  models: {
    file: string | null;
    /** Reads the variables a catalog names in `api_key_env` (upstream keys), at boot only. */
    readEnv: (name: string) => string | undefined;
  };
  auth: { adminToken: string | null; bootstrapKey: string | null; failuresPerMinute: number };
  limits: { perSecond: number; burst: number };
  console: {
    adminUser: string;
    adminPassword: string | null;
    sessionIdleMs: number;
    sessionMaxMs: number;
    loginAttemptsPerMinute: number;
  };
  redis: { url: string | null; keyPrefix: string; commandTimeoutMs: number };
  upstream: {
    connectTimeoutMs: number;
    firstByteTimeoutMs: number;
    idleTimeoutMs: number;
    totalTimeoutMs: number;
    keepAliveIntervalMs: number;
    maxBodyBytes: number;
  };
  metrics: { token: string | null; cacheMs: number; scrapesPerSecond: number };
  fleet: { scrapeIntervalMs: number; nodeStaleMs: number; affinityQueueMargin: number };
  log: { level: EnvValues['LOG_LEVEL']; format: EnvValues['LOG_FORMAT']; content: boolean };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/**
 * Reads and validates every setting once. Throws a `ConfigError` listing one line per bad
 * variable; `main.ts` prints those lines and exits 1.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const problems: string[] = [];
  const values = {} as Record<string, unknown>;
  for (const [name, setting] of Object.entries(ENV_SCHEMA)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      values[name] = setting.default;
      continue;
    }
    try {
      values[name] = (setting.parse as (raw: string) => unknown)(raw);
    } catch (error) {
      if (!(error instanceof EnvError)) {
        throw error;
      }
      problems.push(`${name}: ${error.message}`);
    }
  }
  const v = values as EnvValues;
  // Node refuses a header timeout longer than the whole-request timeout.
  if (problems.length === 0 && v.SERVER_HEADERS_TIMEOUT_SECS > v.SERVER_REQUEST_TIMEOUT_SECS) {
    problems.push(
      `SERVER_HEADERS_TIMEOUT_SECS: must not exceed SERVER_REQUEST_TIMEOUT_SECS (${v.SERVER_REQUEST_TIMEOUT_SECS}), got ${v.SERVER_HEADERS_TIMEOUT_SECS}`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  const orNull = (s: string) => (s === '' ? null : s);
  const secs = (n: number) => Math.round(n * 1000);
  return deepFreeze<AppConfig>({
    http: {
      host: v.HOST,
      port: v.PORT,
      maxBodyBytes: v.MAX_BODY_BYTES,
      headersTimeoutMs: secs(v.SERVER_HEADERS_TIMEOUT_SECS),
      requestTimeoutMs: secs(v.SERVER_REQUEST_TIMEOUT_SECS),
      keepAliveTimeoutMs: secs(v.SERVER_KEEPALIVE_TIMEOUT_SECS),
      maxInFlight: v.MAX_IN_FLIGHT,
      maxUnauthenticatedInFlight: v.MAX_UNAUTHENTICATED_IN_FLIGHT,
      minBodyBytesPerSec: v.MIN_BODY_BYTES_PER_SEC,
      maxConnections: v.MAX_CONNECTIONS,
      maxConnectionsPerAddress: v.MAX_CONNECTIONS_PER_ADDRESS,
      shutdownGraceMs: secs(v.SHUTDOWN_GRACE_SECS),
      trustProxy: orNull(v.TRUST_PROXY),
    },
    db: {
      url: v.DATABASE_URL,
      poolMax: v.DATABASE_POOL_MAX,
      statementTimeoutMs: v.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    conversations: { historyCacheBytes: v.HISTORY_CACHE_BYTES },
    history: {
      ttlMs: v.CONVERSATION_TTL_DAYS === 0 ? null : v.CONVERSATION_TTL_DAYS * 86_400_000,
      sweepIntervalMs: secs(v.RETENTION_SWEEP_SECS),
    },
    policy: { file: orNull(v.POLICY_FILE) },
    responses: {
      backgroundStaleMs: v.BACKGROUND_STALE_SECS * 1000,
      backgroundMaxRuns: v.BACKGROUND_MAX_RUNS,
    },
    models: { file: orNull(v.MODELS_FILE), readEnv: (name: string) => env[name] },
    auth: {
      adminToken: orNull(v.ADMIN_TOKEN),
      bootstrapKey: orNull(v.BOOTSTRAP_API_KEY),
      failuresPerMinute: v.AUTH_FAILURES_PER_MINUTE,
    },
    limits: { perSecond: v.RATE_LIMIT_PER_SECOND, burst: v.RATE_LIMIT_BURST },
    console: {
      adminUser: v.CONSOLE_ADMIN_USER,
      adminPassword: orNull(v.CONSOLE_ADMIN_PASSWORD),
      sessionIdleMs: v.CONSOLE_SESSION_IDLE_MINUTES * 60_000,
      sessionMaxMs: v.CONSOLE_SESSION_MAX_HOURS * 3_600_000,
      loginAttemptsPerMinute: v.CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE,
    },
    redis: {
      url: orNull(v.REDIS_URL),
      keyPrefix: v.REDIS_KEY_PREFIX,
      commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    },
    upstream: {
      connectTimeoutMs: v.HTTP_CONNECT_TIMEOUT_MS,
      firstByteTimeoutMs: secs(v.HTTP_FIRST_BYTE_TIMEOUT_SECS),
      idleTimeoutMs: secs(v.HTTP_IDLE_TIMEOUT_SECS),
      totalTimeoutMs: secs(v.HTTP_TOTAL_TIMEOUT_SECS),
      keepAliveIntervalMs: secs(v.SSE_KEEPALIVE_SECS),
      maxBodyBytes: v.UPSTREAM_MAX_BODY_BYTES,
    },
    metrics: {
      token: orNull(v.METRICS_TOKEN),
      cacheMs: secs(v.METRICS_CACHE_SECS),
      scrapesPerSecond: v.METRICS_SCRAPES_PER_SECOND,
    },
    fleet: {
      scrapeIntervalMs: secs(v.FLEET_SCRAPE_SECS),
      nodeStaleMs: secs(v.FLEET_NODE_STALE_SECS),
      affinityQueueMargin: v.FLEET_AFFINITY_QUEUE_MARGIN,
    },
    log: { level: v.LOG_LEVEL, format: v.LOG_FORMAT, content: v.LOG_CONTENT },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** The process environment is read here and nowhere else. */
export function loadConfigFromProcessEnv(): AppConfig {
  return loadConfig(process.env);
}
