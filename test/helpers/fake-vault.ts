import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeVault {
  url: string;
  /** Every request's path and headers, to count reads and check what was sent. */
  requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Replaces the latest version of a secret (`mount/path`), as `vault kv put` would. */
  put(secretPath: string, data: Record<string, unknown>): void;
  close(): Promise<void>;
}

/**
 * A fake of Vault's KV version 2 HTTP API on 127.0.0.1: `GET /v1/{mount}/data/{path}` with
 * `X-Vault-Token`, answering `{data: {data, metadata}}`; 403 `permission denied` for any other
 * token, 404 `{errors: []}` for unknown paths, as Vault does. `raw/…` paths answer non-JSON.
 */
export async function startFakeVault(token: string): Promise<FakeVault> {
  const secrets = new Map<string, { data: Record<string, unknown>; version: number }>();
  const requests: FakeVault['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.headers['x-vault-token'] !== token) return json(403, { errors: ['permission denied'] });
    const match = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !match) return json(404, { errors: [] });
    const key = `${match[1]}/${decodeURIComponent(match[2]!)}`;
    if (key.startsWith('raw/')) return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
    const secret = secrets.get(key);
    if (!secret) return json(404, { errors: [] });
    json(200, {
      request_id: '6b3b4a0c-0000-0000-0000-000000000000',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: {
        data: secret.data,
        metadata: {
          created_time: new Date().toISOString(),
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: secret.version,
        },
      },
      wrap_info: null,
      warnings: null,
      auth: null,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    put(secretPath, data) {
      secrets.set(secretPath, { data, version: (secrets.get(secretPath)?.version ?? 0) + 1 });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
