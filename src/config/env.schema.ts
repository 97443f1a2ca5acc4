import { isIP } from 'node:net';
/**
 * Every environment variable Parley reads, with its parser and default. Each parser either
 * returns a value or throws an `EnvError` whose text completes "NAME: ..." in one line.
 *
 * A declarative table rather than class-validator decorators: the messages are part of the
 * operator's contract (`PORT: must be an integer 1-65535, got "80a"`), and a table of small
 * parsers states them once without a custom message per decorator. README's settings table
 * is written from this file.
 */
export class EnvError extends Error {}

type Parser<T> = (raw: string) => T;

const show = (raw: string) => JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);

export const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const value = Number(raw.trim());
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      throw new EnvError(`must be an integer ${min}-${max}, got ${show(raw)}`);
    }
    return value;
  };

export const num =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const value = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new EnvError(`must be a number ${min}-${max}, got ${show(raw)}`);
    }
    return value;
  };

export const bool: Parser<boolean> = (raw) => {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(value)) {
    return true;
  }
  if (['false', '0', 'no'].includes(value)) {
    return false;
  }
  throw new EnvError(`must be true or false, got ${show(raw)}`);
};

export const text =
  (minLength = 1): Parser<string> =>
  (raw) => {
    if (raw.length < minLength) {
      throw new EnvError(`must be at least ${minLength} characters`);
    }
    return raw;
  };

export const oneOf =
  <T extends string>(...choices: T[]): Parser<T> =>
  (raw) => {
    if (!choices.includes(raw as T)) {
      throw new EnvError(`must be one of ${choices.join(', ')}, got ${show(raw)}`);
    }
    return raw as T;
  };

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * The proxies whose `X-Forwarded-For` is believed: comma-separated IP addresses, CIDR ranges
 * and the names `loopback`, `linklocal`, `uniquelocal` (private ranges), as Fastify's
 * `trustProxy` (proxy-addr) takes them. Never "every address": a client could then claim any.
 */
export const trustedProxies: Parser<string> = (raw) => {
  const entries = raw.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address);
    const isValidPrefix =
      prefix === undefined ||
      (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (!(PROXY_NAMES.includes(entry) || (family !== 0 && isValidPrefix && extra === undefined))) {
      throw new EnvError(
        `must be IP addresses, CIDR ranges or ${PROXY_NAMES.join('/')}, comma-separated, got ${show(raw)}`,
      );
    }
  }
  return entries.join(',');
};

/** A key or token sent in a header: the shape the API-key guard accepts. */
export const credential: Parser<string> = (raw) => {
  if (/^[\x21-\x7e]{16,256}$/.test(raw)) {
    return raw;
  }
  throw new EnvError('must be 16-256 visible ASCII characters, no spaces (value hidden)');
};

/** A console username: what the users CLI and `POST /api/login` accept. */
export const CONSOLE_USERNAME_PATTERN = /^[A-Za-z0-9._@-]{1,56}$/;

export const consoleUsername: Parser<string> = (raw) => {
  if (CONSOLE_USERNAME_PATTERN.test(raw)) {
    return raw;
  }
  throw new EnvError(`must be 1-56 letters, digits or . _ @ -, got ${show(raw)}`);
};

export const databaseUrl: Parser<string> = (raw) => {
  if (/^sqlite:.+/.test(raw) || /^postgres(ql)?:\/\/.+/.test(raw)) {
    return raw;
  }
  throw new EnvError('must be sqlite:<path> or postgres://user@host:port/db (value hidden)');
};

export const redisUrl: Parser<string> = (raw) => {
  if (/^rediss?:\/\/.+/.test(raw)) {
    return raw;
  }
  throw new EnvError('must be redis://host:port or rediss://… (value hidden)');
};

interface Setting<T> {
  parse: Parser<T>;
  default: T;
  /** Never printed, not even in a validation error. */
  secret?: boolean;
  doc: string;
}

const setting = <T>(s: Setting<T>) => s;

export const ENV_SCHEMA = {
  HOST: setting({ parse: text(), default: '127.0.0.1', doc: 'Address to listen on.' }),
  PORT: setting({ parse: int(0, 65535), default: 8080, doc: 'TCP port (0 = any free port).' }),
  DATABASE_URL: setting({
    parse: databaseUrl,
    default: 'sqlite:./data/parley.sqlite',
    secret: true,
    doc: '`sqlite:<path>` (relative or absolute) or `postgres://…`.',
  }),
  DATABASE_POOL_MAX: setting({
    parse: int(1, 1000),
    default: 10,
    doc: 'PostgreSQL: connections per gateway instance.',
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: setting({
    parse: int(0, 3_600_000),
    default: 10_000,
    doc: 'PostgreSQL: statement timeout (0 = none); SQLite: busy timeout.',
  }),
  BACKGROUND_STALE_SECS: setting({
    parse: int(2, 3600),
    default: 15,
    doc: '/v1/responses background: a running generation whose heartbeat is older than this is taken as dead (its process crashed) and resolved to a final status by any instance.',
  }),
  BACKGROUND_MAX_RUNS: setting({
    parse: int(0, 100_000),
    default: 256,
    doc: '/v1/responses background: generations one instance runs at once; beyond, a new one is refused with 503 server_overloaded (0 = background responses refused).',
  }),
  HISTORY_CACHE_BYTES: setting({
    parse: int(0, 64 * 1024 * 1024 * 1024),
    default: 32 * 1024 * 1024,
    doc: '/c1: memory for the history of recent turns (every stored string + ~256 B per message), shared by forks; 0 = always read history from the database.',
  }),
  MODELS_FILE: setting({
    parse: text(),
    default: '',
    doc: 'Model catalog (YAML or JSON). Unset: the built-in `echo` dev model.',
  }),
  CONVERSATION_TTL_DAYS: setting({
    parse: int(0, 36_500),
    default: 0,
    doc: 'Conversations idle longer than this many days are deleted (with their messages) by a background sweep. Unset or 0: kept forever.',
  }),
  RETENTION_SWEEP_SECS: setting({
    parse: num(1, 86_400),
    default: 600,
    doc: 'How often the retention sweep runs when `CONVERSATION_TTL_DAYS` is set.',
  }),
  POLICY_FILE: setting({
    parse: text(),
    default: '',
    doc: 'Content policy (YAML or JSON): words and patterns that block a prompt or an answer. Unset: no policy.',
  }),
  ADMIN_TOKEN: setting({
    parse: credential,
    default: '',
    secret: true,
    doc: 'Bearer token for every `/api` route (16-256 visible ASCII characters), for automation; people use the console. Unset: `/api` routes take console sessions only.',
  }),
  BOOTSTRAP_API_KEY: setting({
    parse: credential,
    default: '',
    secret: true,
    doc: 'An API key (16-256 visible ASCII characters) upserted at start for user `default`, active, instead of generating one.',
  }),
  CONSOLE_ADMIN_USER: setting({
    parse: consoleUsername,
    default: 'admin',
    doc: 'Console: username of the admin upserted at start from `CONSOLE_ADMIN_PASSWORD`.',
  }),
  CONSOLE_ADMIN_PASSWORD: setting({
    parse: text(8),
    default: '',
    secret: true,
    doc: 'Console: when set, the admin `CONSOLE_ADMIN_USER` is created (or its password reset, re-enabled) at start. Unset: manage users with `npm run users`.',
  }),
  CONSOLE_SESSION_IDLE_MINUTES: setting({
    parse: int(1, 7 * 24 * 60),
    default: 30,
    doc: 'Console: a session unused this long ends.',
  }),
  CONSOLE_SESSION_MAX_HOURS: setting({
    parse: int(1, 24 * 365),
    default: 12,
    doc: 'Console: a session ends this long after sign-in, however active.',
  }),
  CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: setting({
    parse: int(1, 1_000_000),
    default: 10,
    doc: 'Console: sign-in attempts allowed per client address per minute before 429.',
  }),
  MAX_BODY_BYTES: setting({
    parse: int(1024, 1024 * 1024 * 1024),
    default: 32 * 1024 * 1024,
    doc: 'Largest request body; larger → 413 `body_too_large`.',
  }),
  UPSTREAM_MAX_BODY_BYTES: setting({
    parse: int(1024, 1024 * 1024 * 1024),
    default: 64 * 1024 * 1024,
    doc: 'Largest upstream JSON answer read into memory; larger → 502 `upstream_error`.',
  }),
  RATE_LIMIT_PER_SECOND: setting({
    parse: num(0, 1_000_000),
    default: 1,
    doc: 'Token-bucket refill per key (requests per second).',
  }),
  RATE_LIMIT_BURST: setting({
    parse: int(1, 1_000_000_000),
    default: 30,
    doc: 'Token-bucket size per key.',
  }),
  AUTH_FAILURES_PER_MINUTE: setting({
    parse: int(1, 1_000_000),
    default: 30,
    doc: 'Failed authentications allowed per client address per minute before 429.',
  }),
  TRUST_PROXY: setting({
    parse: trustedProxies,
    default: '',
    doc: "Load balancers whose `X-Forwarded-For` gives the client address (IPs, CIDRs, `loopback`, `uniquelocal`…, comma-separated). Unset: the connection's address.",
  }),
  REDIS_URL: setting({
    parse: redisUrl,
    default: '',
    secret: true,
    doc: 'Share rate limits between instances through Redis (conversations and turn ownership live in the database).',
  }),
  REDIS_KEY_PREFIX: setting({
    parse: text(1),
    default: 'parley:',
    doc: 'Prefix of every Redis key Parley writes (several deployments can share one Redis).',
  }),
  REDIS_COMMAND_TIMEOUT_MS: setting({
    parse: int(10, 60_000),
    default: 500,
    doc: 'A Redis command that takes longer fails; rate limiting then falls back to a local bucket.',
  }),
  HTTP_CONNECT_TIMEOUT_MS: setting({
    parse: int(1, 600_000),
    default: 5_000,
    doc: 'Upstream TCP connect timeout.',
  }),
  HTTP_FIRST_BYTE_TIMEOUT_SECS: setting({
    parse: num(0.001, 86_400),
    default: 600,
    doc: 'Longest wait for upstream response headers (a long prefill is normal).',
  }),
  HTTP_IDLE_TIMEOUT_SECS: setting({
    parse: num(0.001, 86_400),
    default: 120,
    doc: 'Longest silence between two upstream body chunks.',
  }),
  HTTP_TOTAL_TIMEOUT_SECS: setting({
    parse: num(0.001, 86_400),
    default: 600,
    doc: 'Bounds one upstream request from start to end (and a /c1 turn finished in the background).',
  }),
  SSE_KEEPALIVE_SECS: setting({
    parse: num(0.01, 3600),
    default: 15,
    doc: 'Interval of `: keep-alive` comments while a stream waits for its first byte.',
  }),
  FLEET_SCRAPE_SECS: setting({
    parse: num(0, 3600),
    default: 5,
    doc: "Interval of reading each upstream's load (vLLM `/metrics`, Ollama `/api/ps`; see `metrics_url`); figures older than three intervals are stale. 0 = never.",
  }),
  FLEET_NODE_STALE_SECS: setting({
    parse: num(1, 86_400),
    default: 30,
    doc: 'A GPU node whose last report is older than this is shown `stale` (reports older than a day are dropped).',
  }),
  FLEET_AFFINITY_QUEUE_MARGIN: setting({
    parse: int(0, 1_000_000),
    default: 4,
    doc: "A conversation leaves its upstream when that upstream's waiting queue exceeds the least loaded one's by more than this.",
  }),
  METRICS_CACHE_SECS: setting({
    parse: num(0, 60),
    default: 1,
    doc: '`/metrics` text is rendered at most this often; scrapes in between get the same text (0: every scrape).',
  }),
  METRICS_SCRAPES_PER_SECOND: setting({
    parse: num(0.01, 1_000_000),
    default: 2,
    doc: '`/metrics` scrapes per client address and second (burst: 5 times that, at least 10); more → 429.',
  }),
  METRICS_TOKEN: setting({
    parse: text(1),
    default: '',
    secret: true,
    doc: 'When set, `/metrics` needs `Authorization: Bearer <token>`.',
  }),
  LOG_LEVEL: setting({
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
    doc: 'Log level.',
  }),
  LOG_FORMAT: setting({
    parse: oneOf('auto', 'json', 'pretty'),
    default: 'auto',
    doc: 'Log lines as JSON, or readable (`pretty`, colours). `auto`: pretty when stdout is a terminal, JSON otherwise.',
  }),
  LOG_CONTENT: setting({
    parse: bool,
    default: false,
    doc: 'Debug only: include prompt and answer text in logs.',
  }),
  SHUTDOWN_GRACE_SECS: setting({
    parse: num(0, 3600),
    default: 30,
    doc: 'On SIGTERM/SIGINT, how long in-flight requests and streams may finish.',
  }),
  MAX_IN_FLIGHT: setting({
    parse: int(1, 1_000_000),
    default: 4096,
    doc: 'Requests in flight beyond which new ones get 503 `server_overloaded`.',
  }),
  MAX_UNAUTHENTICATED_IN_FLIGHT: setting({
    parse: int(1, 1_000_000),
    default: 256,
    doc: 'Requests still arriving without a recognised key (their own budget, apart from `MAX_IN_FLIGHT`); beyond it new ones get 503.',
  }),
  MIN_BODY_BYTES_PER_SEC: setting({
    parse: int(0, 1_000_000_000),
    default: 1024,
    doc: 'Slowest average body upload accepted after its first 2 s; slower → connection cut (408). 0: off.',
  }),
  MAX_CONNECTIONS: setting({
    parse: int(1, 10_000_000),
    default: 10_000,
    doc: 'Open client connections; beyond it idle keep-alive ones are closed first, then new ones refused.',
  }),
  MAX_CONNECTIONS_PER_ADDRESS: setting({
    parse: int(0, 10_000_000),
    default: 1024,
    doc: 'Open connections per client address (0: no cap). Raise or disable behind a load balancer.',
  }),
  SERVER_HEADERS_TIMEOUT_SECS: setting({
    parse: num(0.1, 3600),
    default: 10,
    doc: 'A client must send its request headers within this time.',
  }),
  SERVER_REQUEST_TIMEOUT_SECS: setting({
    parse: num(0.1, 3600),
    default: 60,
    doc: 'A client must send its whole request (headers and body) within this time.',
  }),
  SERVER_KEEPALIVE_TIMEOUT_SECS: setting({
    parse: num(0.1, 3600),
    default: 65,
    doc: 'Idle keep-alive connections from clients are closed after this.',
  }),
} as const;

export type EnvSchema = typeof ENV_SCHEMA;
export type EnvValues = {
  [K in keyof EnvSchema]: EnvSchema[K] extends Setting<infer T> ? T : never;
};
