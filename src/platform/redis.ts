import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

/**
 * A Redis client for request-path work (rate limits, caches): commands fail fast while the
 * connection is down instead of queueing, so callers can fall back rather than hang.
 * Reconnects forever in the background; logs once per outage and once on recovery.
 */
export function createRedisClient(url: string, log: FastifyBaseLogger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: { message: err.message } }, 'redis unreachable; reconnecting in the background');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log.info('redis reachable again');
  });
  return client;
}

/** Resolves once the client is ready, has failed its first attempt, or after timeoutMs. */
export function settled(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
    client.once('error', done);
  });
}

/** QUIT when connected (lets replies drain), otherwise just drop the socket and stop reconnecting. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}
