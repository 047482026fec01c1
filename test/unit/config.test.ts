import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { randomKey, tempDir } from '../helpers/config.ts';

const strongProduction = () => ({
  DASHTAM_ENV: 'production',
  DATA_DIR: tempDir(),
  PUBLIC_BASE_URL: 'https://dashtam.example.com',
  JWT_SIGNING_KEY: randomKey('jwt-1'),
  ENCRYPTION_KEYS: randomKey('enc-1'),
});

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

test('defaults follow API.md', () => {
  const config = loadConfig({ DATA_DIR: tempDir() });
  assert.equal(config.env, 'development');
  assert.equal(config.port, 3000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.loginMaxFailures, 5);
  assert.equal(config.sessionCap, 10);
  assert.equal(config.refreshReuseLeewaySeconds, 10);
  assert.equal(config.changesRetentionDays, 90);
  assert.equal(config.syncIntervalMinutes, 360);
  assert.equal(config.syncMinIntervalSeconds, 300);
  assert.equal(config.accessTokenTtlSeconds, 900);
  assert.equal(config.tokenRotationGraceSeconds, 300);
  assert.deepEqual(config.rateLimits.password_reset, { points: 3, seconds: 3600 });
  assert.deepEqual(config.rateLimits.read, { points: 300, seconds: 60 });
  assert.equal(config.http.bodyLimitBytes, 1024 * 1024);
  assert.equal(config.http.slowRequestMs, 500);
  assert.equal(config.db.poolMax, 20);
  assert.equal(config.schwab.baseUrl, 'https://api.schwabapi.com');
  assert.equal(config.publicBaseUrl, 'http://127.0.0.1:3000');
});

test('a strong production configuration is accepted', () => {
  const config = loadConfig({ ...strongProduction(), CORS_ORIGINS: 'https://app.example.com' });
  assert.equal(config.env, 'production');
  assert.equal(config.secrets.jwtSigningKey.kid, 'jwt-1');
  assert.equal(config.secrets.encryptionKeys[0]?.key.length, 32);
  assert.deepEqual(config.corsOrigins, ['https://app.example.com']);
});

test('production refuses missing secrets', () => {
  const env = strongProduction();
  const problems = problemsOf({ ...env, JWT_SIGNING_KEY: undefined, ENCRYPTION_KEYS: undefined });
  assert.ok(problems.some((p) => p.includes('JWT_SIGNING_KEY is required')));
  assert.ok(problems.some((p) => p.includes('ENCRYPTION_KEYS is required')));
});

test('production refuses a JWT signing key under 32 bytes', () => {
  const problems = problemsOf({ ...strongProduction(), JWT_SIGNING_KEY: randomKey('short', 16) });
  assert.ok(
    problems.some((p) => /JWT_SIGNING_KEY must be at least 32 bytes/.test(p)),
    problems.join(),
  );
});

test('production refuses an encryption key that is not exactly 32 bytes', () => {
  const problems = problemsOf({ ...strongProduction(), ENCRYPTION_KEYS: randomKey('enc', 48) });
  assert.ok(
    problems.some((p) => /ENCRYPTION_KEYS key "enc" must be exactly 32 bytes/.test(p)),
    problems.join(),
  );
});

test('production refuses keys that are not random', () => {
  const sameByte = `k:${Buffer.alloc(32, 7).toString('base64')}`;
  const ascii = `k:${Buffer.from('abababababababababababababababab').toString('base64')}`;
  for (const weak of [sameByte, ascii]) {
    const problems = problemsOf({ ...strongProduction(), ENCRYPTION_KEYS: weak, JWT_SIGNING_KEY: weak });
    assert.ok(problems.some((p) => p.startsWith('ENCRYPTION_KEYS') && p.includes('does not look random')));
    assert.ok(problems.some((p) => p.startsWith('JWT_SIGNING_KEY') && p.includes('does not look random')));
  }
});

test('production refuses the published placeholder keys', () => {
  const placeholder = 'k1:Q0hBTkdFLU1FLUNIQU5HRS1NRS1DSEFOR0UtTUUtMzI=';
  const problems = problemsOf({
    ...strongProduction(),
    JWT_SIGNING_KEY: placeholder,
    ENCRYPTION_KEYS: placeholder,
  });
  assert.equal(problems.filter((p) => p.includes('published placeholder')).length, 2, problems.join());
});

test('production refuses CORS_ORIGINS=*', () => {
  const problems = problemsOf({ ...strongProduction(), CORS_ORIGINS: '*' });
  assert.ok(problems.some((p) => p.includes('CORS_ORIGINS=*')));
  assert.deepEqual(loadConfig({ DATA_DIR: tempDir(), CORS_ORIGINS: '*' }).corsOrigins, ['*']);
});

test('production refuses a non-https or missing PUBLIC_BASE_URL', () => {
  assert.ok(
    problemsOf({ ...strongProduction(), PUBLIC_BASE_URL: 'http://dashtam.example.com' }).some((p) =>
      p.includes('PUBLIC_BASE_URL must be https'),
    ),
  );
  assert.ok(
    problemsOf({ ...strongProduction(), PUBLIC_BASE_URL: undefined }).some((p) =>
      p.includes('PUBLIC_BASE_URL is required'),
    ),
  );
});

test('every problem is reported at once, one message each', () => {
  const problems = problemsOf({
    DATA_DIR: tempDir(),
    PORT: 'eighty',
    DASHTAM_ENV: 'staging',
    LOGIN_MAX_FAILURES: '0',
    RATE_LIMITS: 'login=5/60,bogus=1/1,read=x',
    DATABASE_URL: 'mysql://x',
    MIGRATE_ON_START: 'maybe',
    CORS_ORIGINS: 'not a url',
    TRUST_PROXY: 'proxy.example.com',
  });
  assert.equal(problems.length, 9, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('PORT must be an integer')));
  assert.ok(problems.some((p) => p.startsWith('DASHTAM_ENV must be')));
  assert.ok(problems.some((p) => p.includes('"bogus=1/1"')));
  assert.ok(problems.some((p) => p.includes('"read=x"')));
});

test('RATE_LIMITS overrides single policies and keeps the other defaults', () => {
  const config = loadConfig({ DATA_DIR: tempDir(), RATE_LIMITS: 'login=20/30, sync=1/5' });
  assert.deepEqual(config.rateLimits.login, { points: 20, seconds: 30 });
  assert.deepEqual(config.rateLimits.sync, { points: 1, seconds: 5 });
  assert.deepEqual(config.rateLimits.register, { points: 3, seconds: 60 });
});

test('TRUST_PROXY takes booleans, hop counts and address lists', () => {
  const dir = tempDir();
  assert.equal(loadConfig({ DATA_DIR: dir }).trustProxy, false);
  assert.equal(loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'true' }).trustProxy, true);
  assert.equal(loadConfig({ DATA_DIR: dir, TRUST_PROXY: '2' }).trustProxy, 2);
  assert.deepEqual(loadConfig({ DATA_DIR: dir, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, [
    '10.0.0.0/8',
    '127.0.0.1',
  ]);
});

test('secrets can come from NAME_FILE files; setting both is refused', () => {
  const dir = tempDir();
  const file = join(dir, 'jwt');
  const key = randomKey('from-file');
  writeFileSync(file, `${key}\n`);
  const config = loadConfig({
    ...strongProduction(),
    JWT_SIGNING_KEY: undefined,
    JWT_SIGNING_KEY_FILE: file,
  });
  assert.equal(config.secrets.jwtSigningKey.kid, 'from-file');
  assert.ok(
    problemsOf({ ...strongProduction(), JWT_SIGNING_KEY_FILE: file }).some((p) => p.includes('both set')),
  );
  assert.ok(
    problemsOf({
      ...strongProduction(),
      JWT_SIGNING_KEY: undefined,
      JWT_SIGNING_KEY_FILE: join(dir, 'nope'),
    }).some((p) => p.includes('cannot read')),
  );
});

test('verification keys for rotation are parsed with their key ids', () => {
  const config = loadConfig({
    ...strongProduction(),
    JWT_VERIFY_KEYS: `${randomKey('old-1')},${randomKey('old-2')}`,
  });
  assert.deepEqual(
    config.secrets.jwtVerifyKeys.map((k) => k.kid),
    ['old-1', 'old-2'],
  );
  const dup = randomKey('same');
  assert.ok(
    problemsOf({ ...strongProduction(), ENCRYPTION_KEYS: `${dup},${dup}` }).some((p) =>
      p.includes('duplicate'),
    ),
  );
});

test('development generates its secrets once into DATA_DIR (0600) and reuses them', () => {
  const dir = tempDir();
  const first = loadConfig({ DATA_DIR: dir });
  const mode = statSync(join(dir, 'secrets.json')).mode & 0o777;
  assert.equal(mode, 0o600);
  const second = loadConfig({ DATA_DIR: dir });
  assert.deepEqual(second.secrets.jwtSigningKey.key, first.secrets.jwtSigningKey.key);
  assert.deepEqual(second.secrets.encryptionKeys[0]?.key, first.secrets.encryptionKeys[0]?.key);
  assert.equal(first.secrets.encryptionKeys[0]?.key.length, 32);
  const other = loadConfig({ DATA_DIR: tempDir() });
  assert.notDeepEqual(other.secrets.jwtSigningKey.key, first.secrets.jwtSigningKey.key);
});

test('production never generates secrets', () => {
  const dir = tempDir();
  problemsOf({ ...strongProduction(), DATA_DIR: dir, JWT_SIGNING_KEY: undefined });
  assert.throws(() => statSync(join(dir, 'secrets.json')), /ENOENT/);
});
