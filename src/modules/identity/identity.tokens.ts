import { createHash, randomBytes } from 'node:crypto';
import { createDecoder, createSigner, createVerifier } from 'fast-jwt';
import { v7 as uuidv7 } from 'uuid';
import type { KeyMaterial } from '../../config/secrets.ts';

/** An opaque secret for a link or a refresh token: 32 random bytes, base64url. */
export function opaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What we store instead of an opaque token. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export interface AccessClaims {
  sub: string;
  sid: string;
  ver: number;
  roles: string[];
  iat: number;
  exp: number;
  jti: string;
}

export interface AccessTokenOptions {
  signingKey: KeyMaterial;
  /** Older keys still accepted (by kid) while tokens signed with them live out their TTL. */
  verifyKeys: KeyMaterial[];
  ttlSeconds: number;
  issuer: string;
  audience: string;
}

type Verify = (token: string) => Record<string, unknown>;

/**
 * HS256 access tokens through fast-jwt, synchronous on both sides (DESIGN.md: async WebCrypto
 * verification cost a DB route 35–40 % of its throughput). The algorithm is pinned; the header's
 * kid picks the verification key, and an unknown kid fails.
 */
export class AccessTokens {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verifiers = new Map<string, Verify>();
  private readonly decode = createDecoder({ complete: true });

  constructor(private readonly options: AccessTokenOptions) {
    this.sign = createSigner({
      key: options.signingKey.key,
      algorithm: 'HS256',
      kid: options.signingKey.kid,
      iss: options.issuer,
      aud: options.audience,
      expiresIn: options.ttlSeconds * 1000,
    });
    for (const material of [options.signingKey, ...options.verifyKeys]) {
      if (this.verifiers.has(material.kid)) continue;
      this.verifiers.set(
        material.kid,
        createVerifier({
          key: material.key,
          algorithms: ['HS256'],
          allowedIss: options.issuer,
          allowedAud: options.audience,
          requiredClaims: ['sub', 'sid', 'ver', 'exp', 'iat', 'jti'],
          cache: 1000,
        }),
      );
    }
  }

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  issue(claims: { sub: string; sid: string; ver: number; roles: string[] }): string {
    return this.sign({ ...claims, jti: uuidv7() });
  }

  /** The verified claims, or null for anything malformed, forged, expired or signed by an unknown key. */
  verify(token: string): AccessClaims | null {
    try {
      const { header } = this.decode(token) as { header: { alg?: unknown; kid?: unknown } };
      if (header.alg !== 'HS256' || typeof header.kid !== 'string') return null;
      const verify = this.verifiers.get(header.kid);
      if (!verify) return null;
      const claims = verify(token);
      if (
        typeof claims.sub !== 'string' ||
        typeof claims.sid !== 'string' ||
        typeof claims.ver !== 'number' ||
        !Array.isArray(claims.roles)
      ) {
        return null;
      }
      return claims as unknown as AccessClaims;
    } catch {
      return null;
    }
  }
}
