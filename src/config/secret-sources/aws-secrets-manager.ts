import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import {
  networkReason,
  type SecretSource,
  SecretSourceError,
  scrub,
  secretDocument,
} from './secret-source.ts';

export interface AwsSecretsManagerOptions {
  secretId: string;
  /** Unset → the SDK's own chain (AWS_REGION in process.env, then the shared config file). */
  region?: string;
  /** A Secrets Manager–compatible endpoint (LocalStack, a VPC endpoint, a test fake). */
  endpoint?: string;
  /** Unset → the SDK's default credential chain (env, shared files, SSO, container/instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Reads one secret with the official SDK's GetSecretValue. Its SecretString must be a JSON
 * object of variable names, the shape the console's "key/value" editor produces. The SDK is
 * imported on first use: it costs ~0.3 s at start-up, which servers without AWS should not pay.
 */
export class AwsSecretsManagerSource implements SecretSource {
  readonly label: string;
  private client: SecretsManagerClient | undefined;
  private sdk: typeof import('@aws-sdk/client-secrets-manager') | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: AwsSecretsManagerOptions) {
    this.label = `AWS Secrets Manager ${options.secretId}`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async fetch(): Promise<Record<string, string>> {
    this.sdk ??= await import('@aws-sdk/client-secrets-manager');
    const { GetSecretValueCommand, SecretsManagerClient } = this.sdk;
    if (!this.client) {
      const { region, endpoint, credentials } = this.options;
      const config: SecretsManagerClientConfig = {
        // One retry covers a dropped keep-alive socket without stretching a failed start-up.
        maxAttempts: 2,
        requestHandler: { connectionTimeout: this.timeoutMs, requestTimeout: this.timeoutMs },
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(credentials ? { credentials } : {}),
      };
      this.client = new SecretsManagerClient(config);
    }
    let secretString: string | undefined;
    try {
      const answer = await this.client.send(new GetSecretValueCommand({ SecretId: this.options.secretId }), {
        abortSignal: AbortSignal.timeout(this.timeoutMs * 2),
      });
      secretString = answer.SecretString;
    } catch (err) {
      throw this.failure(err);
    }
    if (secretString === undefined) {
      throw new SecretSourceError(
        this.label,
        'the secret has no SecretString (binary secrets are not supported)',
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(secretString);
    } catch {
      throw new SecretSourceError(
        this.label,
        'SecretString is not JSON (expected an object of variable names)',
      );
    }
    return secretDocument(this.label, parsed);
  }

  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  private failure(err: unknown): SecretSourceError {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    if (status === undefined) {
      // No HTTP answer: network trouble, a timeout, or no region/credentials found by the SDK.
      const local = e?.name === 'CredentialsProviderError' || /region/i.test(e?.message ?? '');
      const detail = local
        ? `${e.name}: ${scrub(e.message ?? '', this.credentialValues())}`
        : networkReason(err, this.timeoutMs);
      return new SecretSourceError(this.label, detail);
    }
    const message = scrub(e.message ?? '', this.credentialValues());
    return new SecretSourceError(this.label, `HTTP ${status} ${e.name ?? 'error'}: ${message}`, status);
  }

  private credentialValues(): (string | undefined)[] {
    const c = this.options.credentials;
    return [c?.secretAccessKey, c?.sessionToken];
  }
}
