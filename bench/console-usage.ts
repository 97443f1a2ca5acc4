/**
 * `npm run bench:console`: the console's usage report and overview against 1,000,000 usage rows
 * (SQLite), on 127.0.0.1. Seeds 1,000 keys × 20 models × 50 days of `usage_daily` rows behind
 * the gateway's back, then times each console query over HTTP (median of 5) and prints them.
 *
 *   npm run bench:console                 1,000,000 rows
 *   npm run bench:console -- --rows 100000
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createApp } from 'src/app.factory';
import { loadConfig } from 'src/config/load-config';

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const MODELS = 20;
const DAYS = 50;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' } } });
  const rows = Number(values.rows);
  const keys = Math.max(1, Math.round(rows / (MODELS * DAYS)));
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-console-'));
  const file = join(dir, 'parley.sqlite');
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: `sqlite:${file}`,
    ADMIN_TOKEN,
    BOOTSTRAP_API_KEY: 'bench-bootstrap-key-0123456789',
    LOG_LEVEL: 'warn',
  });
  const app = await createApp(config, { withoutDocs: true });
  try {
    const seeded = seed(file, keys);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.getHttpServer().address() as { port: number };
    const base = `http://127.0.0.1:${address.port}`;
    const last = new Date(Date.UTC(2026, 0, DAYS)).toISOString().slice(0, 10);
    const monthAgo = new Date(Date.UTC(2026, 0, DAYS - 29)).toISOString().slice(0, 10);
    const queries: [string, string][] = [
      ['report by user, 30 days', `/api/usage/report?by=user&from=${monthAgo}&to=${last}`],
      ['report by key, 30 days', `/api/usage/report?by=key&from=${monthAgo}&to=${last}`],
      ['report by model, 30 days', `/api/usage/report?by=model&from=${monthAgo}&to=${last}`],
      [
        'report by key, page 50',
        `/api/usage/report?by=key&from=${monthAgo}&to=${last}&offset=1000`,
      ],
      ['report by user, 1 day', `/api/usage/report?by=user&from=${last}&to=${last}`],
      ['overview', '/api/overview'],
    ];
    console.log(
      `usage_daily: ${seeded.rows.toLocaleString('en')} rows (${keys} keys × ${MODELS} models × ${DAYS} days), seeded in ${seeded.seconds.toFixed(1)} s`,
    );
    console.log('query                        median ms   max ms   bytes');
    for (const [name, path] of queries) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(base + path, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const text = await res.text();
        times.push(performance.now() - started);
        if (res.status !== 200) {
          throw new Error(`${path} answered ${res.status}: ${text}`);
        }
        bytes = text.length;
      }
      times.sort((a, b) => a - b);
      console.log(
        `${name.padEnd(28)} ${times[2].toFixed(1).padStart(9)} ${times[4].toFixed(1).padStart(8)} ${String(bytes).padStart(7)}`,
      );
    }
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the rows straight into the file, as a long-running deployment would have them. */
function seed(file: string, keys: number): { rows: number; seconds: number } {
  const started = performance.now();
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    const key = db.prepare(
      `INSERT INTO api_keys (id, name, user_id, key_hash, is_active, role, created_at)
       VALUES (?, ?, ?, ?, 1, 'user', 0)`,
    );
    const usage = db.prepare(
      `INSERT INTO usage_daily (key_id, model, day, prompt_tokens, completion_tokens, requests)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    let rows = 0;
    db.transaction(() => {
      for (let k = 0; k < keys; k++) {
        const id = `bench-key-${String(k).padStart(6, '0')}`;
        key.run(id, `key ${k}`, `user-${k % 200}`, id.padEnd(64, '0'));
        for (let d = 1; d <= DAYS; d++) {
          const day = new Date(Date.UTC(2026, 0, d)).toISOString().slice(0, 10);
          for (let m = 0; m < MODELS; m++) {
            usage.run(
              id,
              `model-${m}`,
              day,
              1000 + ((k * 7 + m * 13 + d) % 5000),
              200 + (k % 300),
              1 + (m % 4),
            );
            rows++;
          }
        }
      }
    })();
    return { rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
