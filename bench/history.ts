/**
 * Issue #19's two figures: full-text search over a large store, and the content policy's cost.
 *
 *   npm run bench:history -- search     (MESSAGES=1000000 QUERIES=300 by default)
 *   npm run bench:history -- policy     (RULES=1000 REQUESTS=3000 by default)
 *
 * search: seeds a SQLite file directly (bulk insert in one transaction, search index rebuilt
 * once: minutes instead of hours of turns), starts the built gateway on it (dist/main.js) and
 * times QUERIES sequential `GET /c1/conversations?q=` per kind of query over HTTP, each as a
 * random one of 50 users. Target: p50 ≤ 50 ms, p99 ≤ 200 ms at 1,000,000 messages.
 *
 * policy: RULES rules (90 % word lists, 10 % RE2 patterns, half input, half output). (1) In
 * process: the policy's CPU per /v1 JSON request (input check + answer check) against the
 * gateway's measured CPU per /v1 JSON request. (2) End to end: two built gateways, without and
 * with the policy, each sent REQUESTS /v1 JSON requests at concurrency 16 (fake upstream in this
 * process); their CPU time per request, read from /proc. Target: ≤ 5 % more CPU.
 *
 * Stops by itself and kills what it started; only talks to 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openDatabase } from 'src/database/data-source';
import { PolicyRule } from 'src/modules/policy/policy.schema';
import { PolicyService } from 'src/modules/policy/policy.service';
import { SQLITE_SEARCH_TRIGGERS, SQLITE_UNSPACED_GLOB } from 'src/modules/search/search-index.ddl';
import { ownerToken } from 'src/modules/search/search-query';
import { startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { spawnGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { TEST_ADMIN_TOKEN, TEST_API_KEY } from 'test/support/start-gateway';

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

/** A deterministic pseudo-random generator (mulberry32): the same store on every run. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = 'ka ri to mi sa lo ne vu pe da gi zo fu re ta ko bi ma se no'.split(' ');
const CJK = '東京大阪会議資料報告予定確認連絡開発検索履歴設定変更問題解決情報管理'.split('');

function vocabulary(size: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 2 + Math.floor(random() * 3);
    let w = '';
    for (let i = 0; i < n; i++) {
      w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    }
    words.add(w);
  }
  return [...words];
}

/** Zipf-like pick: a few words are common, most are rare, as in real text. */
const zipf = (random: () => number, n: number) => Math.floor(n * Math.pow(random(), 3));

async function searchBench() {
  const total = Number(process.env.MESSAGES ?? 1_000_000);
  const queries = Number(process.env.QUERIES ?? 300);
  const users = 1000;
  const perConversation = 100;
  const conversations = Math.ceil(total / perConversation);
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-search-'));
  const env = sqliteGatewayEnv(dir);
  writeModelsFile(dir, fakeModelCatalog('http://127.0.0.1:9/v1'));
  const file = env.DATABASE_URL.slice('sqlite:'.length);
  const migrated = await openDatabase({
    url: env.DATABASE_URL,
    poolMax: 1,
    statementTimeoutMs: 5000,
  });
  await migrated.destroy();

  const random = rng(19);
  const words = vocabulary(20_000, random);
  const sentence = (n: number) =>
    Array.from({ length: n }, () => words[zipf(random, words.length)]).join(' ');
  const cjk = (n: number) =>
    Array.from({ length: n }, () => CJK[Math.floor(random() * CJK.length)]).join('');

  const seedStarted = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  for (const t of SQLITE_SEARCH_TRIGGERS) {
    db.exec(t.drop);
  }
  const insertConversation = db.prepare(
    `INSERT INTO conversations (id, user_id, tree_id, title, metadata, model, head_message_id,
       active_turn_id, active_turn_expires_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, NULL, 'fake', ?, NULL, NULL, ?, ?)`,
  );
  const insertMessage = db.prepare(
    `INSERT INTO messages (id, tree_id, parent_id, depth, turn_id, role, content, name, status,
       finish_reason, prompt_tokens, completion_tokens, token_estimate, model, error_code,
       created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'completed', NULL, NULL, NULL, 30, 'fake', NULL, ?, ?)`,
  );
  const insertDoc = db.prepare(
    'INSERT INTO message_search_docs (message_id, user_id, tree_id, owner, body) VALUES (?, ?, ?, ?, ?)',
  );
  const now = Date.now();
  db.transaction(() => {
    for (let c = 0; c < conversations; c++) {
      const userId = `user-${String(c % users).padStart(4, '0')}`;
      const owner = ownerToken(userId);
      const id = randomUUID();
      let parent: string | null = null;
      const ids: string[] = [];
      for (let i = 0; i < perConversation; i++) {
        const messageId = randomUUID();
        const text = random() < 0.05 ? `${cjk(12)}、${cjk(10)}。` : sentence(20 + zipf(random, 20));
        const at = now - (conversations - c) * 1000 + i;
        ids.push(messageId);
        insertMessage.run(
          messageId,
          id,
          parent,
          i,
          id,
          i % 2 ? 'assistant' : 'user',
          JSON.stringify([{ type: 'text', text }]),
          at,
          at,
        );
        insertDoc.run(messageId, userId, id, owner, text);
        parent = messageId;
      }
      insertConversation.run(id, userId, id, `conversation ${c}`, parent, now, now);
    }
  })();
  const inserted = performance.now();
  db.exec("INSERT INTO message_search_words (message_search_words) VALUES ('rebuild')");
  db.exec(
    `INSERT INTO message_search_grams (rowid, body) SELECT rid, body FROM message_search_docs WHERE body GLOB ${SQLITE_UNSPACED_GLOB}`,
  );
  for (const t of SQLITE_SEARCH_TRIGGERS) {
    db.exec(t.create);
  }
  db.close();
  const indexed = performance.now();
  const sizeMb = readFileSync(file).length / 1e6;
  console.log(
    `seeded ${conversations * perConversation} messages of ${users} users: insert ${ms(inserted - seedStarted)}, index rebuild ${ms(indexed - inserted)}, file ${sizeMb.toFixed(0)} MB`,
  );

  const gw = await spawnGateway({ ...env, LOG_LEVEL: 'info' }, 120_000);
  try {
    const keys: string[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${gw.url}/api/keys`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: `u${i}`, user_id: `user-${String(i * 20).padStart(4, '0')}` }),
      });
      keys.push(((await res.json()) as { key: string }).key);
    }
    const kinds: Record<string, () => string> = {
      'common word': () => words[zipf(random, 50)],
      'rare word': () => words[1000 + Math.floor(random() * 19_000)],
      'two words': () => `${words[zipf(random, 500)]} ${words[zipf(random, 2000)]}`,
      'stem (word + s)': () => `${words[zipf(random, 2000)]}s`,
      'CJK, 2 chars': () => cjk(2),
      'CJK, 3 chars': () => cjk(3),
    };
    const all: number[] = [];
    console.log('\n| query | p50 | p99 | hits per page (mean) |\n|---|---|---|---|');
    for (const [kind, make] of Object.entries(kinds)) {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < queries; i++) {
        const key = keys[Math.floor(random() * keys.length)];
        const started = performance.now();
        const res = await fetch(`${gw.url}/c1/conversations?q=${encodeURIComponent(make())}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        const body = (await res.json()) as { data: unknown[] };
        times.push(performance.now() - started);
        if (res.status !== 200) {
          throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
        }
        hits += body.data.length;
      }
      all.push(...times);
      console.log(
        `| ${kind} | ${ms(percentile(times, 50))} | ${ms(percentile(times, 99))} | ${(hits / queries).toFixed(1)} |`,
      );
    }
    console.log(`| all | ${ms(percentile(all, 50))} | ${ms(percentile(all, 99))} | |`);
  } finally {
    gw.kill();
    await gw.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function policyRules(count: number): PolicyRule[] {
  const random = rng(7);
  const words = vocabulary(count * 6, random);
  return Array.from({ length: count }, (_, i) => {
    const isPattern = i % 10 === 0;
    return {
      name: `rule-${i}`,
      scope: i % 2 ? 'output' : 'input',
      words: isPattern ? [] : words.slice(i * 5, i * 5 + 5),
      patterns: isPattern
        ? [`${words[i * 5]}-\\d{3,6}`, `(?i)code ${words[i * 5 + 1]} [a-z]+`]
        : [],
      models: null,
    } satisfies PolicyRule;
  });
}

const SYSTEM = 'You are a concise assistant.';
const QUESTION = 'Explain in two sentences what an LLM gateway does.';

/** CPU seconds (user + system) a process used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function policyBench() {
  const count = Number(process.env.RULES ?? 1000);
  const requests = Number(process.env.REQUESTS ?? 3000);
  const rules = policyRules(count);

  // (1) In process.
  const compileStarted = performance.now();
  const policy = new PolicyService(rules, ['bench']);
  const compiled = performance.now() - compileStarted;
  const messages = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: QUESTION },
  ];
  const answer = {
    choices: [{ message: { role: 'assistant', content: `You said: ${QUESTION} `.repeat(3) } }],
  };
  const loops = 20_000;
  for (let i = 0; i < 2000; i++) {
    policy.checkInput('bench', messages);
    policy.checkAnswer('bench', answer);
  }
  const cpuStarted = process.cpuUsage();
  for (let i = 0; i < loops; i++) {
    policy.checkInput('bench', messages);
    policy.checkAnswer('bench', answer);
  }
  const cpu = process.cpuUsage(cpuStarted);
  const perRequestUs = (cpu.user + cpu.system) / loops;
  const gatewayUs = Number(process.env.GATEWAY_CPU_US ?? 158);
  console.log(
    `${count} rules compiled in ${ms(compiled)}; policy CPU per /v1 JSON request: ${perRequestUs.toFixed(1)} µs = ${((100 * perRequestUs) / gatewayUs).toFixed(1)} % of the gateway's ${gatewayUs} µs (README bench, json-16)`,
  );

  // (2) End to end.
  const up = await startFakeUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-policy-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({ rules: rules.map((r) => ({ ...r, models: undefined, action: 'block' })) }),
  );
  const perRequestCpu: Record<string, number> = {};
  try {
    for (const [label, extra] of [
      ['without policy', {}],
      ['with policy', { POLICY_FILE: policyFile }],
    ] as const) {
      const gwDir = mkdtempSync(join(dir, 'gw-'));
      writeModelsFile(gwDir, fakeModelCatalog(up.url, { alias: 'bench' }));
      const gw = await spawnGateway({ ...sqliteGatewayEnv(gwDir), LOG_LEVEL: 'info', ...extra });
      try {
        const send = () =>
          fetch(`${gw.url}/v1/chat/completions`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TEST_API_KEY}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ model: 'bench', messages }),
          }).then(async (res) => {
            await res.arrayBuffer();
            if (res.status !== 200) {
              throw new Error(`${label}: ${res.status}`);
            }
          });
        const run = async (n: number) => {
          let next = 0;
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next++ < n) {
                await send();
              }
            }),
          );
        };
        await run(500);
        const before = cpuSeconds(gw.child.pid!);
        await run(requests);
        perRequestCpu[label] = ((cpuSeconds(gw.child.pid!) - before) * 1e6) / requests;
        console.log(`${label}: gateway CPU ${perRequestCpu[label].toFixed(0)} µs per request`);
      } finally {
        gw.kill();
        await gw.exited;
      }
    }
  } finally {
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ratio = perRequestCpu['with policy'] / perRequestCpu['without policy'] - 1;
  console.log(
    `end to end: ${(100 * ratio).toFixed(1)} % more gateway CPU per request with ${count} rules`,
  );
}

const mode = process.argv[2];
const run = mode === 'search' ? searchBench : mode === 'policy' ? policyBench : null;
if (!run) {
  console.error('usage: npm run bench:history -- search|policy');
  process.exit(2);
}
run().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
