import { readFileSync } from 'node:fs';
import {
  networkReason,
  type SecretSource,
  SecretSourceError,
  scrub,
  secretDocument,
} from './secret-source.ts';

export interface VaultOptions {
  addr: string;
  /** `mount/path`: the first segment is the KV v2 mount, the rest the secret's path in it. */
  secretPath: string;
  /** Re-read on every fetch, so a token file renewed by Vault Agent is picked up. */
  token: () => string;
  namespace?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Splits `secret/dashtam` into mount `secret` and path `dashtam`; null when either is empty. */
export function splitSecretPath(secretPath: string): { mount: string; path: string } | null {
  const parts = secretPath.split('/').filter((p) => p !== '');
  if (parts.length < 2) return null;
  return { mount: parts[0]!, path: parts.slice(1).join('/') };
}

/**
 * Reads one KV version 2 secret through Vault's HTTP API:
 * `GET {addr}/v1/{mount}/data/{path}` with `X-Vault-Token`, answering
 * `{data: {data: {...}, metadata: {...}}}` (the latest version).
 */
export class VaultKvSource implements SecretSource {
  readonly label: string;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: VaultOptions) {
    const split = splitSecretPath(options.secretPath);
    if (!split) throw new Error('VAULT_SECRET_PATH must be mount/path, e.g. secret/dashtam');
    this.label = `Vault ${split.mount}/${split.path}`;
    const encode = (s: string) => s.split('/').map(encodeURIComponent).join('/');
    this.url = `${options.addr.replace(/\/+$/, '')}/v1/${encode(split.mount)}/data/${encode(split.path)}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async fetch(): Promise<Record<string, string>> {
    let token: string;
    try {
      token = this.options.token();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new SecretSourceError(this.label, `cannot read the Vault token file (${code})`);
    }
    const headers: Record<string, string> = { 'X-Vault-Token': token, Accept: 'application/json' };
    if (this.options.namespace) headers['X-Vault-Namespace'] = this.options.namespace;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(this.url, {
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new SecretSourceError(
        this.label,
        `Vault at ${this.options.addr} ${networkReason(err, this.timeoutMs)}`,
      );
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) throw this.statusError(response.status, text, token);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new SecretSourceError(this.label, `HTTP ${response.status} but the answer is not JSON`);
    }
    const data = (body as { data?: { data?: unknown } } | null)?.data?.data;
    // A deleted or destroyed latest version answers 200 with data.data null.
    if (data === null || data === undefined) {
      throw new SecretSourceError(
        this.label,
        'the answer holds no secret data (not a KV v2 secret, or its latest version is deleted)',
      );
    }
    return secretDocument(this.label, data);
  }

  close(): void {}

  private statusError(status: number, text: string, token: string): SecretSourceError {
    const hint =
      status === 403
        ? 'permission denied (check VAULT_TOKEN and its policy)'
        : status === 404
          ? 'no secret at this path (check VAULT_SECRET_PATH and that the mount is KV version 2)'
          : vaultErrors(text, token);
    return new SecretSourceError(this.label, `HTTP ${status}: ${hint}`, status);
  }
}

/** Vault reports failures as `{errors: [...]}`; only that list is shown, scrubbed of the token. */
function vaultErrors(text: string, token: string): string {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return scrub(errors.map(String).join('; '), [token]);
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone has to do.
  }
  return 'Vault refused the request';
}

/** Reads a token file the way NAME_FILE secrets are read: whole file, trimmed. */
export function tokenFromFile(path: string): () => string {
  return () => readFileSync(path, 'utf8').trim();
}
