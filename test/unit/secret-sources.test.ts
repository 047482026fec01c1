import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import {
  createSecretProvider,
  resolveSecretSources,
  SecretCache,
  type SecretLog,
  SecretSourceError,
} from '../../src/config/secret-sources/index.ts';
import { randomKey, tempDir } from '../helpers/config.ts';
import { type FakeSecretsManager, startFakeSecretsManager } from '../helpers/fake-aws-secrets-manager.ts';
import { type FakeVault, startFakeVault } from '../helpers/fake-vault.ts';

// The SDK warns once per process that it will need Node 22 in 2027; that is for operators, not tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const VAULT_TOKEN = 'hvs.test-root-token-0123456789';
const AWS_KEY_ID = 'AKIAFAKEFAKEFAKE1234';
const AWS_SECRET = 'fake/secret+access+key/0123456789abcdefghij';

function recordingLog(): SecretLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => void lines.push(`info ${m}`), warn: (m) => void lines.push(`warn ${m}`) };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a failure');
}

const productionBase = () => ({
  DASHTAM_ENV: 'production',
  DATA_DIR: tempDir(),
  PUBLIC_BASE_URL: 'https://dashtam.example.com',
});

describe('HashiCorp Vault KV v2', () => {
  let vault: FakeVault;
  const jwt = randomKey('vault-jwt');
  const enc = randomKey('vault-enc');
  const vaultEnv = (extra: Record<string, string> = {}) => ({
    ...productionBase(),
    VAULT_ADDR: vault.url,
    VAULT_TOKEN,
    VAULT_SECRET_PATH: 'secret/dashtam',
    ...extra,
  });

  before(async () => {
    vault = await startFakeVault(VAULT_TOKEN);
    vault.put('secret/dashtam', {
      JWT_SIGNING_KEY: jwt,
      ENCRYPTION_KEYS: enc,
      METRICS_TOKEN: 'metrics-token-from-vault',
      LEGACY_API_KEY: 'do-not-print-this-value',
    });
    vault.put('secret/numbers', { JWT_SIGNING_KEY: 42 });
  });
  after(() => vault.close());

  test('values fill the environment and loadConfig accepts them in production', async () => {
    const log = recordingLog();
    const env = await resolveSecretSources(vaultEnv({ VAULT_NAMESPACE: 'team-a' }), { log });
    assert.equal(env.JWT_SIGNING_KEY, jwt);
    const config = loadConfig(env);
    assert.equal(config.secrets.jwtSigningKey.kid, 'vault-jwt');
    assert.equal(config.secrets.encryptionKeys[0]?.kid, 'vault-enc');
    assert.equal(config.metricsToken, 'metrics-token-from-vault');
    const last = vault.requests.at(-1)!;
    assert.equal(last.path, '/v1/secret/data/dashtam');
    assert.equal(last.headers['x-vault-namespace'], 'team-a');
    assert.ok(
      log.lines.includes(
        'info Vault secret/dashtam supplied JWT_SIGNING_KEY, ENCRYPTION_KEYS, METRICS_TOKEN',
      ),
    );
  });

  test('unknown keys are warned about by name, never by value', async () => {
    const log = recordingLog();
    const env = await resolveSecretSources(vaultEnv(), { log });
    assert.equal(env.LEGACY_API_KEY, undefined);
    const warnings = log.lines.filter((l) => l.startsWith('warn'));
    assert.deepEqual(warnings, [
      'warn Vault secret/dashtam: ignoring keys that are not Dashtam secret variables: LEGACY_API_KEY',
    ]);
    assert.ok(!log.lines.join('\n').includes('do-not-print-this-value'));
  });

  test('explicit environment wins, as NAME or as NAME_FILE', async () => {
    const own = randomKey('env-jwt');
    const dir = tempDir();
    const metricsFile = join(dir, 'metrics-token');
    writeFileSync(metricsFile, 'metrics-token-from-a-file\n');
    const log = recordingLog();
    const env = await resolveSecretSources(
      vaultEnv({ JWT_SIGNING_KEY: own, METRICS_TOKEN_FILE: metricsFile }),
      { log },
    );
    assert.equal(env.JWT_SIGNING_KEY, own);
    assert.equal(env.METRICS_TOKEN, undefined, 'not filled beside METRICS_TOKEN_FILE');
    const config = loadConfig(env);
    assert.equal(config.secrets.jwtSigningKey.kid, 'env-jwt');
    assert.equal(config.metricsToken, 'metrics-token-from-a-file');
    assert.equal(config.secrets.encryptionKeys[0]?.kid, 'vault-enc');
    assert.ok(
      log.lines.includes(
        'info the environment overrides the secret manager for JWT_SIGNING_KEY, METRICS_TOKEN',
      ),
    );
  });

  test('the token can come from VAULT_TOKEN_FILE', async () => {
    const file = join(tempDir(), 'vault-token');
    writeFileSync(file, `${VAULT_TOKEN}\n`);
    const { VAULT_TOKEN: _, ...env } = vaultEnv({ VAULT_TOKEN_FILE: file });
    const merged = await resolveSecretSources(env, { log: recordingLog() });
    assert.equal(merged.ENCRYPTION_KEYS, enc);
  });

  test('a bad token is a clear error that does not echo the token', async () => {
    const badToken = 'hvs.wrong-token-abcdefghijklmnop';
    const err = await failure(resolveSecretSources(vaultEnv({ VAULT_TOKEN: badToken })));
    assert.ok(err instanceof SecretSourceError);
    assert.equal(err.status, 403);
    assert.match(err.message, /^Vault secret\/dashtam: HTTP 403: permission denied/);
    assert.ok(!err.message.includes(badToken));
    assert.ok(!err.message.includes(VAULT_TOKEN));
  });

  test('a missing path, a non-JSON answer, non-string values and an unreachable Vault are start-up errors', async () => {
    const missing = await failure(resolveSecretSources(vaultEnv({ VAULT_SECRET_PATH: 'secret/nope' })));
    assert.match(missing.message, /^Vault secret\/nope: HTTP 404: no secret at this path/);

    const html = await failure(resolveSecretSources(vaultEnv({ VAULT_SECRET_PATH: 'raw/page' })));
    assert.match(html.message, /^Vault raw\/page: HTTP 200 but the answer is not JSON/);

    const numbers = await failure(resolveSecretSources(vaultEnv({ VAULT_SECRET_PATH: 'secret/numbers' })));
    assert.match(numbers.message, /values must be strings \(not for: JWT_SIGNING_KEY\)/);
    assert.ok(!numbers.message.includes('42'));

    const closed = await startFakeVault(VAULT_TOKEN);
    const closedUrl = closed.url;
    await closed.close();
    const down = await failure(resolveSecretSources(vaultEnv({ VAULT_ADDR: closedUrl })));
    assert.equal(down.message, `Vault secret/dashtam: Vault at ${closedUrl} unreachable (ECONNREFUSED)`);
  });

  test('settings problems are reported together as one ConfigError', () => {
    const file = join(tempDir(), 'token');
    const err = (() => {
      try {
        createSecretProvider({
          DASHTAM_ENV: 'production',
          VAULT_ADDR: 'http://vault.internal:8200',
          VAULT_TOKEN,
          VAULT_TOKEN_FILE: file,
          VAULT_SECRET_PATH: 'dashtam',
          SECRETS_CACHE_TTL_SECONDS: 'soon',
        });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      'SECRETS_CACHE_TTL_SECONDS must be an integer between 0 and 86400 (got "soon")',
      'VAULT_ADDR must be https in production (plain http only to a local Vault Agent)',
      'VAULT_SECRET_PATH must be mount/path, e.g. secret/dashtam',
      'VAULT_TOKEN and VAULT_TOKEN_FILE are both set; set only one',
    ]);
    assert.ok(!err.message.includes(VAULT_TOKEN));
    assert.throws(() => createSecretProvider({ VAULT_SECRET_PATH: 'secret/dashtam' }), {
      message: /VAULT_ADDR is not[\s\S]*neither VAULT_TOKEN nor VAULT_TOKEN_FILE/,
    });
  });

  test('without a secret manager the environment is returned untouched', async () => {
    // VAULT_ADDR and VAULT_TOKEN alone belong to the Vault CLI; only VAULT_SECRET_PATH opts in.
    const env = { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN };
    assert.equal(createSecretProvider(env), undefined);
    assert.equal(await resolveSecretSources(env), env);
  });
});

describe('AWS Secrets Manager', () => {
  let aws: FakeSecretsManager;
  const jwt = randomKey('aws-jwt');
  const enc = randomKey('aws-enc');
  const awsEnv = (extra: Record<string, string> = {}) => ({
    ...productionBase(),
    AWS_SECRETS_MANAGER_SECRET_ID: 'prod/dashtam',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: aws.url,
    AWS_ACCESS_KEY_ID: AWS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: AWS_SECRET,
    ...extra,
  });

  before(async () => {
    aws = await startFakeSecretsManager(AWS_KEY_ID, 'us-east-1');
    aws.put(
      'prod/dashtam',
      JSON.stringify({ JWT_SIGNING_KEY: jwt, ENCRYPTION_KEYS: enc, SCHWAB_CLIENT_SECRET: 'schwab-secret' }),
    );
    aws.put('prod/not-json', 'JWT_SIGNING_KEY=plain-text-secret');
  });
  after(() => aws.close());

  test('GetSecretValue through the official SDK fills the configuration', async () => {
    const env = await resolveSecretSources(awsEnv(), { log: recordingLog() });
    const config = loadConfig(env);
    assert.equal(config.secrets.jwtSigningKey.kid, 'aws-jwt');
    assert.equal(config.secrets.encryptionKeys[0]?.kid, 'aws-enc');
    assert.equal(config.schwab.clientSecret, 'schwab-secret');
    assert.deepEqual(aws.rejected, []);
  });

  test('an unknown secret id names the source, status and AWS error, never the credentials', async () => {
    const err = await failure(
      resolveSecretSources(awsEnv({ AWS_SECRETS_MANAGER_SECRET_ID: 'prod/missing' }), {
        log: recordingLog(),
      }),
    );
    assert.ok(err instanceof SecretSourceError);
    assert.equal(err.status, 400);
    assert.equal(
      err.message,
      "AWS Secrets Manager prod/missing: HTTP 400 ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    );
    assert.ok(!err.message.includes(AWS_SECRET));
  });

  test('rejected credentials and an unreachable endpoint are clear start-up errors', async () => {
    const denied = await failure(
      resolveSecretSources(awsEnv({ AWS_ACCESS_KEY_ID: 'AKIAOTHEROTHER000000' }), { log: recordingLog() }),
    );
    assert.match(
      denied.message,
      /^AWS Secrets Manager prod\/dashtam: HTTP 400 UnrecognizedClientException: /,
    );
    assert.ok(!denied.message.includes(AWS_SECRET));

    const closed = await startFakeSecretsManager(AWS_KEY_ID, 'us-east-1');
    await closed.close();
    const down = await failure(
      resolveSecretSources(awsEnv({ AWS_ENDPOINT_URL: closed.url }), { log: recordingLog() }),
    );
    assert.equal(down.message, 'AWS Secrets Manager prod/dashtam: unreachable (ECONNREFUSED)');
  });

  test('a SecretString that is not JSON is refused without echoing it', async () => {
    const err = await failure(
      resolveSecretSources(awsEnv({ AWS_SECRETS_MANAGER_SECRET_ID: 'prod/not-json' }), {
        log: recordingLog(),
      }),
    );
    assert.equal(
      err.message,
      'AWS Secrets Manager prod/not-json: SecretString is not JSON (expected an object of variable names)',
    );
  });

  test('Vault comes before AWS when both are configured', async () => {
    const vault = await startFakeVault(VAULT_TOKEN);
    const vaultJwt = randomKey('vault-first');
    vault.put('kv/app/dashtam', { JWT_SIGNING_KEY: vaultJwt });
    try {
      const env = await resolveSecretSources(
        awsEnv({ VAULT_ADDR: vault.url, VAULT_TOKEN, VAULT_SECRET_PATH: 'kv/app/dashtam' }),
        { log: recordingLog() },
      );
      assert.equal(vault.requests.at(-1)?.path, '/v1/kv/data/app/dashtam');
      assert.equal(env.JWT_SIGNING_KEY, vaultJwt);
      assert.equal(env.ENCRYPTION_KEYS, enc);
    } finally {
      await vault.close();
    }
  });
});

describe('SecretCache', () => {
  let vault: FakeVault;
  before(async () => {
    vault = await startFakeVault(VAULT_TOKEN);
    vault.put('secret/rotating', { JWT_SIGNING_KEY: 'k1:first' });
  });
  after(() => vault.close());

  const reads = () => vault.requests.filter((r) => r.path === '/v1/secret/data/rotating').length;

  test('serves from memory within the TTL and re-reads after it', async () => {
    let now = 1_000_000;
    const provider = createSecretProvider(
      {
        VAULT_ADDR: vault.url,
        VAULT_TOKEN,
        VAULT_SECRET_PATH: 'secret/rotating',
        SECRETS_CACHE_TTL_SECONDS: '60',
      },
      () => now,
    );
    assert.ok(provider instanceof SecretCache);
    const before = reads();
    assert.equal(await provider.get('JWT_SIGNING_KEY'), 'k1:first');
    vault.put('secret/rotating', { JWT_SIGNING_KEY: 'k2:second' });
    now += 59_999;
    const [a, b] = await Promise.all([provider.get('JWT_SIGNING_KEY'), provider.get('ENCRYPTION_KEYS')]);
    assert.equal(a, 'k1:first', 'still the cached answer');
    assert.equal(b, undefined);
    assert.equal(reads() - before, 1);
    now += 1;
    assert.equal(await provider.get('JWT_SIGNING_KEY'), 'k2:second');
    assert.equal(reads() - before, 2);
    provider.invalidate();
    await provider.get('JWT_SIGNING_KEY');
    assert.equal(reads() - before, 3);
    provider.close();
  });

  test('concurrent reads share one request; a failed read is not cached', async () => {
    const provider = createSecretProvider({
      VAULT_ADDR: vault.url,
      VAULT_TOKEN,
      VAULT_SECRET_PATH: 'secret/rotating',
    })!;
    const before = reads();
    await Promise.all([1, 2, 3].map(() => provider.get('JWT_SIGNING_KEY')));
    assert.equal(reads() - before, 1);

    const failing = createSecretProvider({
      VAULT_ADDR: vault.url,
      VAULT_TOKEN: 'hvs.nope-nope',
      VAULT_SECRET_PATH: 'secret/rotating',
    })!;
    await assert.rejects(failing.get('JWT_SIGNING_KEY'), SecretSourceError);
    await assert.rejects(failing.get('JWT_SIGNING_KEY'), SecretSourceError);
    assert.equal(vault.requests.filter((r) => r.headers['x-vault-token'] === 'hvs.nope-nope').length, 2);
  });

  test('resolveSecretSources uses a provider it is given, once, and leaves it open', async () => {
    const provider = createSecretProvider({
      VAULT_ADDR: vault.url,
      VAULT_TOKEN,
      VAULT_SECRET_PATH: 'secret/rotating',
    })!;
    const before = reads();
    await resolveSecretSources({ DASHTAM_ENV: 'test' }, { provider, log: recordingLog() });
    await provider.get('JWT_SIGNING_KEY');
    assert.equal(reads() - before, 1, 'the later get was served from the cache');
    provider.close();
  });
});
