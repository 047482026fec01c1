import type { SecretSource } from './secret-source.ts';
import type { SecretVariable } from './secret-variables.ts';

/** What later code (key rotation, say) asks for a secret, without knowing where it lives. */
export interface SecretProvider {
  get(name: SecretVariable): Promise<string | undefined>;
}

export interface SourceDocument {
  label: string;
  values: Record<string, string>;
}

export interface SecretCacheOptions {
  /** How long a read is served from memory; 0 re-reads on every call. */
  ttlMs: number;
  now?: () => number;
}

/**
 * Holds what the secret managers answered for ttlMs, so re-reads (every request, every
 * rotation check) cost one manager call per TTL. Each source is read whole in one call; the
 * first source listing a variable wins. Concurrent callers share one in-flight read, and a failed
 * read is not cached: the next call tries again and gets the error itself.
 */
export class SecretCache implements SecretProvider {
  private cached: { documents: SourceDocument[]; expiresAt: number } | undefined;
  private inFlight: Promise<SourceDocument[]> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly sources: SecretSource[],
    private readonly options: SecretCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(name: SecretVariable): Promise<string | undefined> {
    for (const document of await this.documents()) {
      if (Object.hasOwn(document.values, name)) return document.values[name];
    }
    return undefined;
  }

  /** Every source's whole document, in precedence order, from memory while fresh. */
  async documents(): Promise<SourceDocument[]> {
    if (this.cached && this.now() < this.cached.expiresAt) return this.cached.documents;
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Forgets the cached answers, e.g. right after an operator rotated a key in the manager. */
  invalidate(): void {
    this.cached = undefined;
  }

  close(): void {
    for (const source of this.sources) source.close();
  }

  private async load(): Promise<SourceDocument[]> {
    const documents = await Promise.all(
      this.sources.map(async (source) => ({ label: source.label, values: await source.fetch() })),
    );
    this.cached = { documents, expiresAt: this.now() + this.options.ttlMs };
    return documents;
  }
}
