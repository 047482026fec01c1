import type { FastifyInstance } from 'fastify';

/** Who a request is, once the identity module has verified its access token. */
export interface AuthContext {
  userId: string;
  sessionId: string;
  roles: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set only after the bearer token is verified; never derived from unverified claims. */
    auth: AuthContext | null;
  }
}

export function registerAuthContext(app: FastifyInstance): void {
  app.decorateRequest('auth', null);
}
