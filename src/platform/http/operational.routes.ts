import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../db/index.ts';
import type { Migrator } from '../db/migrator.ts';
import { sendProblem } from './error-handler.ts';
import { escapeHtml, HTML_CSP, htmlPage } from './html.ts';
import { AppError, isProblemCode, PROBLEMS } from './problems.ts';
import { problemResponses } from './schemas.ts';

/** /health, /ready and the /problems pages: no auth, never rate limited. */
export function registerOperationalRoutes(
  app: FastifyInstance,
  deps: { db: Database; migrator: Migrator },
): void {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database answers and every migration is applied',
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            database: Type.String(),
            migrations: Type.String(),
          }),
          ...problemResponses(503),
        },
      },
    },
    async (request, reply) => {
      let reason: string;
      try {
        await deps.db.query('SELECT 1');
        if (await deps.migrator.isCurrent()) {
          return { status: 'ready' as const, database: deps.db.kind, migrations: 'current' };
        }
        reason = 'Migrations are pending or were changed after they were applied.';
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        reason = 'The database is unreachable.';
      }
      return sendProblem(request, reply, new AppError('not_ready', { detail: reason, retryable: true }));
    },
  );

  app.get('/problems', { schema: { hide: true } }, async (_request, reply) => {
    const items = Object.entries(PROBLEMS)
      .map(
        ([code, p]) =>
          `<li><a href="/problems/${code}"><code>${code}</code></a> (${p.status}) ${escapeHtml(p.title)}</li>`,
      )
      .join('');
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', HTML_CSP)
      .send(htmlPage('Dashtam problem codes', `<h1>Problem codes</h1><ul>${items}</ul>`));
  });

  app.get<{ Params: { code: string } }>(
    '/problems/:code',
    { schema: { hide: true, params: Type.Object({ code: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => {
      const { code } = request.params;
      if (!isProblemCode(code)) {
        return sendProblem(request, reply, new AppError('not_found', { detail: 'No such problem code.' }));
      }
      const problem = PROBLEMS[code];
      const body =
        `<h1>${escapeHtml(problem.title)}</h1><p>Code <code>${code}</code>, usually HTTP ${problem.status}.</p>` +
        `<p>${escapeHtml(problem.description)}</p><p>Every problem response carries <code>request_id</code>; ` +
        'quote it when asking for help. <a href="/problems">All codes</a>.</p>';
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', HTML_CSP)
        .send(htmlPage(`${problem.title} (${code})`, body));
    },
  );
}
