import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPGlite } from '../../src/platform/db/pglite.ts';
import { tempDir } from '../helpers/config.ts';
import { createScratchDatabase } from '../helpers/database.ts';
import { freePort, startProcess, stopProcess, waitForExit } from '../helpers/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

// Exactly what `npm start` runs, spawned directly so signals reach the server itself, not npm.
const START = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start.split(
  ' ',
) as string[];
const [START_CMD, ...START_ARGS] = START[0] === 'node' ? [process.execPath, ...START.slice(1)] : START;

function serverEnv(dataDir: string, port: number, extra: Record<string, string | undefined> = {}) {
  return {
    ...process.env,
    DASHTAM_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

test('npm start serves /health and /docs on the embedded database; data survives a restart', async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  let server: ChildProcess = await startProcess(START_CMD!, START_ARGS, serverEnv(dataDir, port), port, ROOT);
  t.after(() => stopProcess(server));

  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const docs = await fetch(`http://127.0.0.1:${port}/docs`);
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger/i);
  const ready = await fetch(`http://127.0.0.1:${port}/ready`);
  assert.equal(ready.status, 200);
  const secrets = readFileSync(join(dataDir, 'secrets.json'), 'utf8');

  // Graceful stop on SIGTERM: exit code 0 and the data-dir lock released.
  server.kill('SIGTERM');
  assert.equal(await waitForExit(server), 0);

  // Write a row while the server is down, then restart: the row and the secrets are still there.
  const db = await openPGlite(dataDir);
  await db.exec("CREATE TABLE e2e_probe (note text); INSERT INTO e2e_probe VALUES ('kept')");
  await db.close();
  server = await startProcess(START_CMD!, START_ARGS, serverEnv(dataDir, port), port, ROOT);
  assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  assert.equal(readFileSync(join(dataDir, 'secrets.json'), 'utf8'), secrets, 'secrets are generated once');
  server.kill('SIGTERM');
  assert.equal(await waitForExit(server), 0);
  const reopened = await openPGlite(dataDir);
  const { rows } = await reopened.query<{ note: string }>('SELECT note FROM e2e_probe');
  await reopened.close();
  assert.deepEqual(rows, [{ note: 'kept' }]);
});

test('a second process on the same data directory gets a clear error', async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['bin/dashtam.js', 'serve'],
    serverEnv(dataDir, port),
    port,
    ROOT,
  );
  t.after(() => stopProcess(server));
  const second = spawn(process.execPath, ['bin/dashtam.js', 'migrate', 'status'], {
    cwd: ROOT,
    env: serverEnv(dataDir, port),
  });
  let stderr = '';
  second.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  assert.equal(await waitForExit(second), 1);
  assert.match(stderr, /in use by another Dashtam process \(pid \d+\)/);
});

test('the server refuses to start with an insecure production configuration', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, DASHTAM_ENV: 'production', DATA_DIR: tempDir(), CORS_ORIGINS: '*' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  assert.equal(await waitForExit(child), 1);
  assert.match(stderr, /Invalid configuration/);
  assert.match(stderr, /JWT_SIGNING_KEY is required/);
  assert.match(stderr, /CORS_ORIGINS=\*/);
  assert.doesNotMatch(stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('dashtam serve runs on the suite database (PGlite, or PostgreSQL via DATABASE_URL)', async (t) => {
  const scratch = await createScratchDatabase();
  t.after(() => scratch.drop());
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['bin/dashtam.js', 'serve'],
    serverEnv(tempDir(), port, { DATABASE_URL: scratch.url }),
    port,
    ROOT,
  );
  t.after(() => stopProcess(server));
  const ready = await fetch(`http://127.0.0.1:${port}/ready`);
  const expected = scratch.url ? 'postgres' : 'pglite';
  assert.deepEqual(await ready.json(), { status: 'ready', database: expected, migrations: 'current' });
});
