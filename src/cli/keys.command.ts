import type { Config } from '../config/config.ts';
import { formatKey, generateKey } from '../config/secrets.ts';
import { KeyStore } from '../platform/crypto/index.ts';
import { openDatabase } from '../platform/db/index.ts';

export const KEYS_USAGE = `dashtam keys generate [kid]     print a new master key (kid:base64, 32 random bytes)
dashtam keys rewrap             re-wrap every data key to the first ENCRYPTION_KEYS key`;

const KID = /^[A-Za-z0-9._-]{1,64}$/;

/** A kid that sorts by creation date, e.g. `enc-20270101`. */
function defaultKid(now: Date): string {
  return `enc-${now.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * `dashtam keys …`; returns the process exit code. Rotation: generate a key, put it first in
 * ENCRYPTION_KEYS (keeping the old one after it), restart, run `rewrap`, then drop the old key.
 */
export async function keysCommand(
  args: string[],
  loadConfig: () => Config,
  out: (line: string) => void,
  now: () => Date = () => new Date(),
): Promise<number> {
  const [action, arg] = args;
  if (action === 'generate') {
    const kid = arg ?? defaultKid(now());
    if (!KID.test(kid)) {
      out('usage: dashtam keys generate [kid] (kid: 1-64 characters of [A-Za-z0-9._-])');
      return 2;
    }
    out(formatKey(generateKey(kid)));
    return 0;
  }
  if (action !== 'rewrap') {
    out(KEYS_USAGE);
    return 2;
  }
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const { rows } = await db.query<{ present: boolean }>(
      "SELECT to_regclass('keystore.data_keys') IS NOT NULL AS present",
    );
    if (!rows[0]?.present) {
      out('The key store does not exist yet: run `dashtam migrate up` first.');
      return 1;
    }
    const store = new KeyStore(db, config.secrets.encryptionKeys);
    await store.init();
    const result = await store.rewrapAll();
    out(`re-wrapped ${result.rewrapped} data keys to master key "${store.activeKid}"`);
    out(
      `now: ${result.current} under the active key, ${result.remaining} under others, ${result.destroyed} destroyed`,
    );
    if (result.failed > 0) {
      const missing =
        result.missingMasterKids.length > 0 ? ` (missing: ${result.missingMasterKids.join(', ')})` : '';
      out(
        `${result.failed} data keys could not be unwrapped${missing}: keep their master keys in ENCRYPTION_KEYS`,
      );
      return 1;
    }
    return 0;
  } finally {
    await db.close();
  }
}
