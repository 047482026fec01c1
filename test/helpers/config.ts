import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config/config.ts';

export function randomKey(kid: string, bytes = 32): string {
  return `${kid}:${randomBytes(bytes).toString('base64')}`;
}

export function tempDir(prefix = 'dashtam-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * One master key per test process: every app a test file builds on its shared database must
 * unwrap the data keys the previous ones stored (and `KeyStore.init` refuses a kid whose key changed).
 */
const TEST_ENCRYPTION_KEYS = randomKey('test-enc');

/** Environment for a test app: fresh keys, a temp DATA_DIR, limits high enough not to interfere. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    DASHTAM_ENV: 'test',
    DATA_DIR: tempDir(),
    JWT_SIGNING_KEY: randomKey('test-jwt'),
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    RATE_LIMITS:
      'register=1000/60,login=1000/60,password_reset=1000/60,refresh=1000/60,connect=1000/60,sync=1000/60,read=100000/60,write=100000/60',
    LOG_LEVEL: 'silent',
    // Test apps only enqueue (no background workers racing the test); job tests turn it on.
    JOBS_ENABLED: 'false',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides));
}
