/** One place secrets are read from: a Vault KV v2 secret or an AWS Secrets Manager secret. */
export interface SecretSource {
  /** Names the source in messages, e.g. `Vault secret/dashtam`; never holds a credential. */
  readonly label: string;
  /** Reads the whole secret document: every key with a string value (unknown keys included). */
  fetch(): Promise<Record<string, string>>;
  /** Releases sockets (the AWS client keeps connections alive). */
  close(): void;
}

/**
 * A start-up (or refresh) failure of a secret source. The message names the source and the
 * HTTP status but is built only from text we control or scrub: never a secret value or token.
 */
export class SecretSourceError extends Error {
  constructor(
    readonly source: string,
    detail: string,
    readonly status?: number,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'SecretSourceError';
  }
}

/** Replaces every occurrence of each credential in text (vendor error text can echo requests). */
export function scrub(text: string, credentials: (string | undefined)[]): string {
  let out = text;
  for (const credential of credentials) {
    if (credential && credential.length >= 4) out = out.split(credential).join('[REDACTED]');
  }
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/**
 * Checks that a parsed secret document is a flat object of strings. Non-string values are
 * refused by key name only, so a mistyped number or nested object never reaches the log.
 */
export function secretDocument(source: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SecretSourceError(source, 'the secret must be a JSON object of variable names to strings');
  }
  const out: Record<string, string> = {};
  const bad: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner === 'string') out[key] = inner;
    else bad.push(key);
  }
  if (bad.length > 0) {
    throw new SecretSourceError(source, `values must be strings (not for: ${bad.sort().join(', ')})`);
  }
  return out;
}

/** Why a network call failed, from the error fetch or the SDK threw (codes only, no payloads). */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = e?.cause?.code ?? e?.code;
  return code ? `unreachable (${code})` : `unreachable (${e?.name ?? 'error'})`;
}
