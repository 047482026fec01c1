import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { startWorker, WORKER_NEEDS_POSTGRES } from '../../src/worker.ts';
import { testConfig, testEnv } from '../helpers/config.ts';
import { createScratchDatabase, onPostgres } from '../helpers/database.ts';
import { enqueueOnlyMailer, eventually } from '../helpers/jobs.ts';
import { stopProcess, waitForExit } from '../helpers/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('dashtam worker refuses the embedded database with a clear message', async () => {
  await assert.rejects(startWorker(testConfig()), (err: Error) => err.message === WORKER_NEEDS_POSTGRES);
  assert.match(WORKER_NEEDS_POSTGRES, /PostgreSQL server \(DATABASE_URL\).*one process only/);
});

interface SpawnedWorker {
  child: ChildProcess;
  lines: Record<string, unknown>[];
}

async function spawnWorker(t: TestContext, env: NodeJS.ProcessEnv): Promise<SpawnedWorker> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'dashtam.js'), 'worker'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => stopProcess(child));
  const worker: SpawnedWorker = { child, lines: [] };
  let partial = '';
  child.stdout?.on('data', (chunk) => {
    const text = partial + chunk;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) worker.lines.push(JSON.parse(line));
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${stderr}`);
    return worker.lines.some((l) => l.msg === 'Dashtam worker running');
  }, 60_000);
  return worker;
}

// Several processes need PostgreSQL (PGlite is one process): CI runs this by name on PostgreSQL.
test('postgres-only: two dashtam worker processes share the queue, each job runs once, SIGTERM stops them cleanly', {
  skip: !onPostgres && 'needs PostgreSQL (several processes)',
}, async (t) => {
  const scratch = await createScratchDatabase();
  t.after(() => scratch.drop());
  const db = await scratch.open();
  t.after(() => db.close());
  await new Migrator(db).up();
  const env = { ...process.env, ...testEnv({ DATABASE_URL: scratch.url, LOG_LEVEL: 'info' }) };
  const workers = [await spawnWorker(t, env), await spawnWorker(t, env)];

  const mailer = await enqueueOnlyMailer(t, db);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++)
    ids.push(await mailer.send({ to: `w${i}@example.test`, subject: `n${i}`, text: 'x' }));

  const delivered = (w: SpawnedWorker) =>
    w.lines.filter((l) => l.msg?.toString().startsWith('mail not delivered')).map((l) => String(l.outbox_id));
  await eventually(async () => workers.flatMap(delivered).length >= ids.length, 60_000);
  const all = workers.flatMap(delivered);
  assert.deepEqual([...all].sort(), [...ids].sort(), 'every message handled exactly once across workers');
  for (const [i, w] of workers.entries()) assert.ok(delivered(w).length > 0, `worker ${i} took no job`);
  const rows = await db.query<{ attempts: number; sent: boolean }>(
    'SELECT attempts, sent_at IS NOT NULL AS sent FROM mail_outbox',
  );
  assert.ok(rows.rows.every((r) => r.attempts === 1 && r.sent));

  for (const w of workers) {
    w.child.kill('SIGTERM');
    assert.equal(await waitForExit(w.child), 0);
  }
});
