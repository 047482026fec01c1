import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp } from '../helpers/app.ts';
import { assertProblem } from '../helpers/problem.ts';

test('GET /metrics exposes request timing by route pattern, pool usage and event-loop lag', async (t) => {
  const app = await buildTestApp(t);
  await app.inject({ url: '/health' });
  await app.inject({ url: '/api/v1/does-not-exist/123' });
  const res = await app.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  assert.match(
    res.body,
    /dashtam_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} 1/,
  );
  assert.match(res.body, /route="unmatched",status_code="404"/);
  assert.doesNotMatch(res.body, /does-not-exist/, 'raw URLs never become labels');
  assert.match(res.body, /dashtam_db_pool_connections\{state="total"\} \d+/);
  assert.match(res.body, /dashtam_nodejs_eventloop_lag_seconds/);
  assert.match(res.body, /# TYPE dashtam_rate_limit_rejections_total counter/);
  assert.match(res.body, /# TYPE dashtam_job_outcomes_total counter/);
});

test('METRICS_TOKEN requires the bearer token', async (t) => {
  const token = 'metrics-token-0123456789';
  const app = await buildTestApp(t, { env: { METRICS_TOKEN: token } });
  assertProblem(await app.inject({ url: '/metrics' }), 401, 'unauthorized');
  assertProblem(
    await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } }),
    401,
    'unauthorized',
  );
  const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.statusCode, 200);
});

test('production without METRICS_TOKEN answers 404', async (t) => {
  const app = await buildTestApp(t, {
    env: { DASHTAM_ENV: 'production', PUBLIC_BASE_URL: 'https://dashtam.example.com' },
  });
  assertProblem(await app.inject({ url: '/metrics' }), 404, 'not_found');
});
