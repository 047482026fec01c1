import assert from 'node:assert/strict';
import { cpSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { runCli } from '../../src/cli/main.ts';
import { migrateCommand } from '../../src/cli/migrate.command.ts';
import { DEFAULT_MIGRATIONS_DIR } from '../../src/platform/db/migrator.ts';
import { tempDir, testConfig } from '../helpers/config.ts';
import { createScratchDatabase } from '../helpers/database.ts';

test('dashtam migrate up | status | down | create', async (t) => {
  const scratch = await createScratchDatabase();
  t.after(() => scratch.drop());
  const dir = tempDir('dashtam-cli-migrations-');
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  const dataDir = tempDir();
  const config = () => testConfig({ DATABASE_URL: scratch.url, DATA_DIR: dataDir });
  const run = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await migrateCommand(args, config, (l) => lines.push(l), dir);
    return { code, out: lines.join('\n') };
  };

  assert.match((await run('status')).out, /0001_foundation {2}pending/);
  const up = await run('up');
  assert.equal(up.code, 0);
  assert.match(up.out, /applied 0001_foundation/);
  assert.match((await run('up')).out, /Nothing to apply/);
  assert.match((await run('status')).out, /0001_foundation {2}applied \d{4}-/);
  const total = readdirSync(dir).filter((f) => f.endsWith('.up.sql')).length;
  assert.match((await run('down')).out, /^reverted \d{4}_\w+$/);
  const rest = await run('down', String(total + 5));
  assert.equal(rest.out.split('\n').length, total - 1, 'reverts only what is applied');
  assert.match(rest.out.split('\n').at(-1)!, /reverted 0001_foundation/);
  assert.match((await run('down')).out, /Nothing to revert/);
  assert.equal((await run('down', 'zero')).code, 2);

  const created = await run('create', 'add_things');
  assert.equal(created.code, 0);
  assert.ok(readdirSync(dir).some((f) => /^\d{4}_add_things\.up\.sql$/.test(f)));
  assert.equal((await run('create')).code, 2);
  assert.equal((await run('sideways')).code, 2);
});

test('dashtam help and unknown commands', async () => {
  const lines: string[] = [];
  assert.equal(await runCli(['help'], (l) => lines.push(l)), 0);
  assert.match(lines.join('\n'), /dashtam serve/);
  assert.equal(await runCli(['frobnicate'], (l) => lines.push(l)), 2);
  assert.match(lines.at(-1)!, /unknown command "frobnicate"/);
  assert.equal(await runCli([], () => {}), 2);
});
