/**
 * Relative HTTP benchmarks: every scenario runs a baseline server and a target server in this one
 * process, in the same minute, and reports `target req/s / baseline req/s`. Absolute numbers depend on
 * the machine; the ratio is what to compare between runs.
 *
 *   node --import tsx bench/run.ts            # all scenarios
 *   node --import tsx bench/run.ts health     # only the named scenario(s)
 *
 * Env: BENCH_SECONDS (measure time per side, default 10), BENCH_WARMUP_SECONDS (default 2),
 *      BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (baseline/target pairs, default 1),
 *      BENCH_WORKERS (autocannon worker threads, default 1; 0 = load generator on the main thread).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { writePipelineApp } from './write-pipeline.ts';

// --- harness -------------------------------------------------------------------------------------

interface Server {
  /** Origin only, e.g. http://127.0.0.1:1234 — must be a 127.0.0.1 address. */
  url: string;
  close: () => Promise<void>;
}

interface Scenario {
  name: string;
  baseline: () => Promise<Server>;
  target: () => Promise<Server>;
  /** Path requested on the target; the baseline uses `baselinePath` if given, else the same path. */
  path: string;
  baselinePath?: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Path of a CommonJS module whose export changes each target request (autocannon setupRequest). */
  setupTargetRequest?: string;
}

/** The subset of autocannon's result that is used here (the package ships no types). */
interface Histogram {
  average: number;
  p50: number;
  p99: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer >= ${min} (got "${raw}")`);
  return value;
}

const SECONDS = envInt('BENCH_SECONDS', 10, 1);
const WARMUP_SECONDS = envInt('BENCH_WARMUP_SECONDS', 2, 0);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50, 1);
const ROUNDS = envInt('BENCH_ROUNDS', 1, 1);
const WORKERS = envInt('BENCH_WORKERS', 1, 0);

function fire(scenario: Scenario, server: Server, side: 'baseline' | 'target', seconds: number) {
  const origin = new URL(server.url);
  if (origin.hostname !== '127.0.0.1')
    throw new Error(`refusing to benchmark a non-local URL: ${server.url}`);
  const path = side === 'baseline' ? (scenario.baselinePath ?? scenario.path) : scenario.path;
  return autocannon({
    url: new URL(path, origin).toString(),
    method: scenario.method ?? 'GET',
    headers: scenario.headers ?? {},
    body: scenario.body,
    connections: CONNECTIONS,
    duration: seconds,
    ...(WORKERS > 0 ? { workers: WORKERS } : {}),
    // Worker threads load the hook by path; on this thread it is required here.
    ...(side === 'target' && scenario.setupTargetRequest
      ? {
          requests: [
            {
              setupRequest:
                WORKERS > 0
                  ? scenario.setupTargetRequest
                  : createRequire(import.meta.url)(scenario.setupTargetRequest),
            },
          ],
        }
      : {}),
  });
}

interface Row {
  scenario: string;
  side: 'baseline' | 'target';
  result: AutocannonResult;
}

function statusSummary(result: AutocannonResult): string {
  const stats = result.statusCodeStats ?? {};
  return Object.entries(stats)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, { count }]) => `${code}×${count}`)
    .join(' ');
}

async function runScenario(scenario: Scenario): Promise<Row[]> {
  const rows: Row[] = [];
  const servers: Server[] = [];
  try {
    const baseline = await scenario.baseline();
    servers.push(baseline);
    const target = await scenario.target();
    servers.push(target);
    if (WARMUP_SECONDS > 0) {
      process.stderr.write(`[${scenario.name}] warming up (${WARMUP_SECONDS}s each)\n`);
      await fire(scenario, baseline, 'baseline', WARMUP_SECONDS);
      await fire(scenario, target, 'target', WARMUP_SECONDS);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [side, server] of [
        ['baseline', baseline],
        ['target', target],
      ] as const) {
        process.stderr.write(`[${scenario.name}] round ${round}/${ROUNDS}: ${side} (${SECONDS}s)\n`);
        rows.push({ scenario: scenario.name, side, result: await fire(scenario, server, side, SECONDS) });
      }
    }
  } finally {
    for (const server of servers.reverse()) await server.close();
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const header = ['scenario', 'side', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'ratio'];
  const lines: string[][] = [];
  // Ratio per target row: its req/s over the mean req/s of all baseline rows of the same scenario.
  const baselineMean = new Map<string, number>();
  for (const name of new Set(rows.map((r) => r.scenario))) {
    const base = rows.filter((r) => r.scenario === name && r.side === 'baseline');
    baselineMean.set(name, base.reduce((sum, r) => sum + r.result.requests.average, 0) / base.length);
  }
  for (const { scenario, side, result } of rows) {
    const base = baselineMean.get(scenario) ?? 0;
    const non2xx = result.non2xx > 0 ? `${result.non2xx} (${statusSummary(result)})` : '0';
    lines.push([
      scenario,
      side,
      result.requests.average.toFixed(0),
      result.latency.p50.toFixed(1),
      result.latency.p99.toFixed(1),
      String(result.errors + result.timeouts),
      non2xx,
      side === 'target' && base > 0 ? `${((result.requests.average / base) * 100).toFixed(1)}%` : '',
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  console.log(
    `\n${SECONDS}s per measurement, ${CONNECTIONS} connections, ${ROUNDS} round(s), ` +
      `${WORKERS} load worker(s); ratio = target req/s / mean baseline req/s`,
  );
}

// --- servers -------------------------------------------------------------------------------------

async function bareFastify(): Promise<Server> {
  const app = Fastify({ logger: false });
  app.get('/hello', async () => ({ status: 'ok' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

async function realApp(env: Record<string, string> = {}): Promise<Server> {
  const dataDir = await mkdtemp(join(tmpdir(), 'dashtam-bench-'));
  try {
    const config = loadConfig({ DASHTAM_ENV: 'test', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
    const app = await buildApp(config);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url,
      close: async () => {
        await app.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

// --- scenarios -----------------------------------------------------------------------------------

const scenarios: Scenario[] = [
  { name: 'health', baseline: bareFastify, target: () => realApp(), baselinePath: '/hello', path: '/health' },
  {
    name: 'write',
    baseline: writePipelineApp,
    target: writePipelineApp,
    baselinePath: '/api/v1/bench/plain',
    path: '/api/v1/bench/full',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ note: 'bench', amount: '12.3400' }),
    setupTargetRequest: fileURLToPath(new URL('./fresh-idempotency-key.cjs', import.meta.url)),
  },
];

// --- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    );
    return 2;
  }
  const selected = wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;

  const rows: Row[] = [];
  for (const scenario of selected) rows.push(...(await runScenario(scenario)));
  printTable(rows);

  const failed = rows.filter(
    (r) => r.side === 'target' && r.result.non2xx + r.result.errors + r.result.timeouts > 0,
  );
  const empty = rows.filter((r) => r.result.requests.total === 0);
  for (const r of failed) {
    console.error(
      `FAIL ${r.scenario}: target had ${r.result.non2xx} non-2xx (${statusSummary(r.result)}), ` +
        `${r.result.errors} errors, ${r.result.timeouts} timeouts`,
    );
  }
  for (const r of empty) console.error(`FAIL ${r.scenario}: ${r.side} completed no requests`);
  return failed.length > 0 || empty.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
