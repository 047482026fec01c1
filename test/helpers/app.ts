import { after, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.ts';
import type { Database } from '../../src/platform/db/index.ts';
import { testConfig } from './config.ts';
import { createScratchDatabase } from './database.ts';

let shared: Promise<{ db: Database; drop: () => Promise<void> }> | undefined;

// Registered when a test file imports this helper, so it runs once, after the file's last test.
after(async () => {
  if (!shared) return;
  const { db, drop } = await shared;
  await db.close();
  await drop();
});

/** One database per test file (migrated by the first app built on it). */
export async function testDatabase(): Promise<Database> {
  shared ??= (async () => {
    const scratch = await createScratchDatabase();
    return { db: await scratch.open(), drop: () => scratch.drop() };
  })();
  return (await shared).db;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  /** Extra routes a test needs (registered before the app is ready). */
  routes?: (app: FastifyInstance) => void;
  logStream?: DestinationStream;
}

/** The real app on the file's database, closed when the test ends. */
export async function buildTestApp(t: TestContext, options: TestAppOptions = {}): Promise<FastifyInstance> {
  const db = await testDatabase();
  const app = await buildApp(testConfig(options.env), { db, logStream: options.logStream });
  options.routes?.(app);
  await app.ready();
  t.after(() => app.close());
  return app;
}
