import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Database } from '../../src/platform/db/index.ts';
import {
  createMigration,
  DEFAULT_MIGRATIONS_DIR,
  MigrationError,
  Migrator,
} from '../../src/platform/db/migrator.ts';
import { tempDir } from '../helpers/config.ts';
import { createScratchDatabase } from '../helpers/database.ts';

async function scratch(t: import('node:test').TestContext): Promise<Database> {
  const s = await createScratchDatabase();
  const db = await s.open();
  t.after(async () => {
    await db.close();
    await s.drop();
  });
  return db;
}

function copyMigrations(): string {
  const dir = tempDir('dashtam-migrations-');
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function tables(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

test('the real migrations apply, revert completely and apply again', async (t) => {
  const db = await scratch(t);
  const migrator = new Migrator(db);
  const applied = await migrator.up();
  assert.ok(applied.length >= 1);
  assert.ok(await migrator.isCurrent());
  const schemaAfterUp = await tables(db);
  assert.deepEqual(await migrator.up(), [], 'a second up applies nothing');

  const reverted = await migrator.down(applied.length);
  assert.deepEqual(reverted, [...applied].reverse());
  assert.deepEqual(await tables(db), ['schema_migrations'], 'down leaves nothing behind');
  const { rows: fns } = await db.query(
    "SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace WHERE nspname = 'public'",
  );
  assert.deepEqual(fns, [], 'down drops functions too');

  assert.deepEqual(await migrator.up(), applied);
  assert.deepEqual(await tables(db), schemaAfterUp);
});

test('every timestamp column is timestamptz', async (t) => {
  const db = await scratch(t);
  await new Migrator(db).up();
  const { rows } = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'`,
  );
  assert.deepEqual(rows, [], `timestamp without time zone found: ${JSON.stringify(rows)}`);
});

test('editing an applied migration is refused, by up and by down', async (t) => {
  const db = await scratch(t);
  const dir = copyMigrations();
  const migrator = new Migrator(db, dir);
  await migrator.up();
  const first = readdirSync(dir).find((f) => f.endsWith('.up.sql'))!;
  writeFileSync(join(dir, first), `${readFileSync(join(dir, first), 'utf8')}\n-- sneaky edit\n`);
  await assert.rejects(
    migrator.up(),
    (err: Error) => err instanceof MigrationError && /was edited/.test(err.message),
  );
  await assert.rejects(migrator.down(), /was edited/);
  assert.equal(
    (await migrator.status()).find((s) => `${String(s.version).padStart(4, '0')}_${s.name}.up.sql` === first)
      ?.state,
    'changed',
  );
  assert.equal(await migrator.isCurrent(), false);
});

test('a migration that fails is rolled back whole and not recorded', async (t) => {
  const db = await scratch(t);
  const dir = copyMigrations();
  const migrator = new Migrator(db, dir);
  await migrator.up();
  writeFileSync(
    join(dir, '0900_broken.up.sql'),
    'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;',
  );
  writeFileSync(join(dir, '0900_broken.down.sql'), 'DROP TABLE half_done;');
  await assert.rejects(migrator.up());
  assert.ok(!(await tables(db)).includes('half_done'));
  assert.equal((await migrator.status()).find((s) => s.version === 900)?.state, 'pending');
});

test('status lists pending, applied and missing migrations; create writes the next pair', async (t) => {
  const db = await scratch(t);
  const dir = copyMigrations();
  const migrator = new Migrator(db, dir);
  assert.ok((await migrator.status()).every((s) => s.state === 'pending'));
  await migrator.up();
  const [up, down] = createMigration(dir, 'add_widgets');
  assert.match(up!, /\d{4}_add_widgets\.up\.sql$/);
  assert.match(down!, /\d{4}_add_widgets\.down\.sql$/);
  writeFileSync(
    up!,
    'CREATE TABLE widgets (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());',
  );
  writeFileSync(down!, 'DROP TABLE widgets;');
  assert.equal((await migrator.status()).at(-1)?.state, 'pending');
  assert.deepEqual((await migrator.up()).length, 1);
  assert.ok((await tables(db)).includes('widgets'));
  assert.throws(() => createMigration(dir, 'Bad Name'), MigrationError);

  unlinkSync(up!);
  unlinkSync(down!);
  assert.equal((await migrator.status()).at(-1)?.state, 'missing');
  await assert.rejects(migrator.up(), /file is missing/);
});

test('rowCount means the same on both drivers: rows returned, or rows changed', async (t) => {
  const db = await scratch(t);
  await db.exec('CREATE TABLE counted (n int); INSERT INTO counted VALUES (1), (2), (3)');
  assert.equal((await db.query('SELECT n FROM counted')).rowCount, 3);
  assert.equal((await db.query('UPDATE counted SET n = n + 1 WHERE n > 1')).rowCount, 2);
  assert.equal((await db.query('DELETE FROM counted WHERE n = 3 RETURNING n')).rowCount, 1);
  assert.equal((await db.query('SELECT n FROM counted WHERE n > 100')).rowCount, 0);
});
