import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSecretsManager {
  url: string;
  /** How many GetSecretValue calls arrived. */
  calls: number;
  /** Problems with requests the real service would reject (wrong target, unsigned…). */
  rejected: string[];
  put(secretId: string, secretString: string): void;
  close(): Promise<void>;
}

/**
 * A fake of AWS Secrets Manager's JSON 1.1 protocol on 127.0.0.1, enough for GetSecretValue:
 * `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`, a SigV4 Authorization header and
 * `{SecretId}`; unknown ids answer 400 ResourceNotFoundException with `x-amzn-errortype`.
 */
export async function startFakeSecretsManager(
  accessKeyId: string,
  region: string,
): Promise<FakeSecretsManager> {
  const secrets = new Map<string, string>();
  const fake: FakeSecretsManager = {
    url: '',
    calls: 0,
    rejected: [],
    put: (id, value) => void secrets.set(id, value),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res
          .writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers })
          .end(JSON.stringify(body));
      };
      const error = (type: string, message: string) =>
        send(400, { __type: type, message }, { 'x-amzn-errortype': `${type}:` });
      const scope = `Credential=${accessKeyId}/`;
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('AWS4-HMAC-SHA256 ') || !auth.includes(scope)) {
        fake.rejected.push('unsigned or wrong access key');
        return error('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      if (!auth.includes(`/${region}/secretsmanager/aws4_request`)) fake.rejected.push('wrong region scope');
      if (req.method !== 'POST' || req.url !== '/') fake.rejected.push(`${req.method} ${req.url}`);
      if (req.headers['content-type'] !== 'application/x-amz-json-1.1') fake.rejected.push('content-type');
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        fake.rejected.push(`target ${req.headers['x-amz-target']}`);
        return error('InvalidAction', 'unsupported action');
      }
      fake.calls += 1;
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
      const value = secrets.get(SecretId);
      if (value === undefined) {
        return error('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      }
      send(200, {
        ARN: `arn:aws:secretsmanager:${region}:123456789012:secret:${SecretId}-AbCdEf`,
        Name: SecretId,
        SecretString: value,
        VersionId: '0b7c5a1e-0000-4000-8000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
