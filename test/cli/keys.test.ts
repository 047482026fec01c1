import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keysCommand } from '../../src/cli/keys.command.ts';
import { runCli } from '../../src/cli/main.ts';
import { parseKey } from '../../src/config/secrets.ts';
import { KeyStore } from '../../src/platform/crypto/index.ts';
import { openDatabase } from '../../src/platform/db/index.ts';
import { Migrator } from '../../src/platform/db/migrator.ts';
import { randomKey, tempDir, testConfig } from '../helpers/config.ts';
import { createScratchDatabase } from '../helpers/database.ts';

async function capture(run: (out: (line: string) => void) => Promise<number | undefined>) {
  const lines: string[] = [];
  const code = await run((line) => lines.push(line));
  return { code, out: lines.join('\n') };
}

test('dashtam keys generate prints a fresh 32-byte kid:base64 key', async () => {
  const noConfig = () => {
    throw new Error('generate must not need configuration');
  };
  const dated = await capture((out) =>
    keysCommand(['generate'], noConfig, out, () => new Date('2027-03-04T00:00:00Z')),
  );
  assert.equal(dated.code, 0);
  const key = parseKey(dated.out);
  assert.ok(typeof key !== 'string');
  assert.equal(key.kid, 'enc-20270304');
  assert.equal(key.key.length, 32);
  const named = await capture((out) => runCli(['keys', 'generate', 'prod-2'], out));
  assert.match(named.out, /^prod-2:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(named.out.split(':')[1], dated.out.split(':')[1]);
  assert.equal((await capture((out) => keysCommand(['generate', 'bad kid!'], noConfig, out))).code, 2);
  const usage = await capture((out) => keysCommand(['spin'], noConfig, out));
  assert.equal(usage.code, 2);
  assert.match(usage.out, /dashtam keys rewrap/);
  assert.match((await capture((out) => runCli(['help'], out))).out, /dashtam keys generate/);
});

test('dashtam keys rewrap re-wraps to the first key so the old one can go', async (t) => {
  const scratch = await createScratchDatabase();
  t.after(() => scratch.drop());
  const dataDir = tempDir();
  const [oldKey, newKey] = [randomKey('old'), randomKey('new')];
  const config = (keys: string) => () =>
    testConfig({ DATABASE_URL: scratch.url, DATA_DIR: dataDir, ENCRYPTION_KEYS: keys });

  const early = await capture((out) => keysCommand(['rewrap'], config(oldKey), out));
  assert.deepEqual(
    [early.code, early.out],
    [1, 'The key store does not exist yet: run `dashtam migrate up` first.'],
  );

  const seedConfig = config(oldKey)();
  let db = await openDatabase(seedConfig);
  await new Migrator(db).up();
  const ct = await new KeyStore(db, seedConfig.secrets.encryptionKeys).encrypt('user-1', 'p', 'kept');
  await db.close();

  const missing = await capture((out) => keysCommand(['rewrap'], config(newKey), out));
  assert.equal(missing.code, 1);
  assert.match(missing.out, /1 data keys could not be unwrapped \(missing: old\)/);

  const done = await capture((out) => keysCommand(['rewrap'], config(`${newKey},${oldKey}`), out));
  assert.equal(done.code, 0, done.out);
  assert.match(done.out, /re-wrapped 1 data keys to master key "new"/);
  assert.match(done.out, /now: 1 under the active key, 0 under others, 0 destroyed/);

  const finalConfig = config(newKey)();
  db = await openDatabase(finalConfig);
  try {
    const store = new KeyStore(db, finalConfig.secrets.encryptionKeys);
    assert.equal((await store.decrypt('user-1', 'p', ct)).toString(), 'kept');
  } finally {
    await db.close();
  }
});
