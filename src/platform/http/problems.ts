/**
 * The catalogue of problem codes (API.md "Errors"). Each code keeps one meaning; `status` is its
 * usual HTTP status, which an error may override where API.md gives another.
 */
export interface ProblemType {
  status: number;
  title: string;
  description: string;
}

export const PROBLEMS = {
  malformed_request: {
    status: 400,
    title: 'Malformed request',
    description: 'The request could not be read: the body is not valid JSON or the request is malformed.',
  },
  invalid_cursor: {
    status: 400,
    title: 'Invalid cursor',
    description: 'The pagination cursor does not decode or verify. Use only cursors returned by the API.',
  },
  invalid_token: {
    status: 400,
    title: 'Invalid token',
    description: 'The one-time token is unknown, already used or expired. Request a new one.',
  },
  invalid_state: {
    status: 400,
    title: 'Invalid OAuth state',
    description: 'The OAuth state is unknown, expired, already used, or belongs to another user or provider.',
  },
  unparseable_file: {
    status: 400,
    title: 'Unparseable file',
    description:
      'A required value is missing or malformed, or the file structure is broken. Nothing was imported.',
  },
  unauthorized: {
    status: 401,
    title: 'Unauthorized',
    description:
      'The access token is missing, invalid, expired or revoked. Sign in again or refresh the token.',
  },
  invalid_credentials: {
    status: 401,
    title: 'Invalid credentials',
    description: 'The email or password is wrong.',
  },
  mfa_required: {
    status: 401,
    title: 'MFA code required',
    description: 'The account has two-factor authentication on: send a current TOTP code or a recovery code.',
  },
  invalid_mfa_code: {
    status: 401,
    title: 'Invalid MFA code',
    description: 'The TOTP or recovery code is wrong, expired or already used.',
  },
  invalid_refresh_token: {
    status: 401,
    title: 'Invalid refresh token',
    description: 'The refresh token is unknown, expired or already rotated. Sign in again.',
  },
  refresh_token_reused: {
    status: 401,
    title: 'Refresh token reused',
    description: 'A rotated refresh token was presented again, so the session was revoked as a precaution.',
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    description: 'You are authenticated but not allowed to do this.',
  },
  email_not_verified: {
    status: 403,
    title: 'Email not verified',
    description: 'Verify your email address before signing in.',
  },
  account_disabled: {
    status: 403,
    title: 'Account disabled',
    description: 'This account has been disabled by an administrator.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    description: 'Nothing exists at this path, or it is not yours.',
  },
  unknown_provider: {
    status: 404,
    title: 'Unknown provider',
    description: 'No provider with that slug exists. See GET /api/v1/providers.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    description: 'The path exists but does not accept this method. The Allow header lists those it does.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    description: 'The request conflicts with the current state of the resource.',
  },
  email_taken: {
    status: 409,
    title: 'Email taken',
    description: 'An account with this email address already exists.',
  },
  idempotency_in_progress: {
    status: 409,
    title: 'Idempotent request in progress',
    description: 'A request with this Idempotency-Key is still being processed. Retry after it finishes.',
  },
  mfa_already_enabled: {
    status: 409,
    title: 'MFA already enabled',
    description: 'Two-factor authentication is already on for this account.',
  },
  not_supported: {
    status: 409,
    title: 'Not supported',
    description: 'This operation does not apply to this kind of connection.',
  },
  reauthentication_required: {
    status: 409,
    title: 'Reauthentication required',
    description: 'The provider consent is gone: start a reauthorization of the connection.',
  },
  connection_not_active: {
    status: 409,
    title: 'Connection not active',
    description: 'The connection must be active for this operation; see its status and user_action.',
  },
  cursor_expired: {
    status: 410,
    title: 'Cursor expired',
    description: 'The change-feed cursor is older than the retention period. Start again without a cursor.',
  },
  payload_too_large: {
    status: 413,
    title: 'Payload too large',
    description: 'The request body is larger than this route accepts (1 MiB for JSON, 10 MiB for imports).',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    description: 'The Content-Type is not one this route accepts (JSON bodies need application/json).',
  },
  unsupported_format: {
    status: 415,
    title: 'Unsupported file format',
    description: 'The uploaded file is not OFX, QFX or CSV.',
  },
  validation_failed: {
    status: 422,
    title: 'Validation failed',
    description:
      'One or more fields are missing, of the wrong type, out of range or not allowed; see errors[].',
  },
  weak_password: {
    status: 422,
    title: 'Weak password',
    description: 'Passwords need 12 to 128 characters and must not be a commonly used password.',
  },
  invalid_idempotency_key: {
    status: 422,
    title: 'Invalid Idempotency-Key',
    description: 'The Idempotency-Key header must be 1 to 255 characters.',
  },
  idempotency_key_mismatch: {
    status: 422,
    title: 'Idempotency-Key reused with another body',
    description: 'This Idempotency-Key was already used with a different request body. Use a new key.',
  },
  rate_limited: {
    status: 429,
    title: 'Rate limited',
    description: 'Too many requests. Wait for the number of seconds in Retry-After.',
  },
  too_many_attempts: {
    status: 429,
    title: 'Too many attempts',
    description: 'Too many failed sign-in attempts. Wait for the number of seconds in Retry-After.',
  },
  sync_too_soon: {
    status: 429,
    title: 'Sync too soon',
    description: 'The connection was synced moments ago. Wait retry_after seconds, or pass force.',
  },
  internal_error: {
    status: 500,
    title: 'Internal error',
    description: 'Something went wrong on our side. Quote the request_id when reporting it.',
  },
  provider_error: {
    status: 502,
    title: 'Provider error',
    description: 'The upstream provider answered with an error or an unreadable response.',
  },
  provider_unavailable: {
    status: 503,
    title: 'Provider unavailable',
    description: 'The upstream provider cannot be reached right now. Retry later.',
  },
  not_ready: {
    status: 503,
    title: 'Not ready',
    description:
      'The server cannot serve requests yet: the database is unreachable or migrations are pending.',
  },
} as const satisfies Record<string, ProblemType>;

export type ProblemCode = keyof typeof PROBLEMS;

export type UserAction = 'reauthenticate' | 'verify_email' | 'wait' | 'contact_support';

export interface FieldError {
  field?: string;
  line?: number;
  element?: string;
  code: string;
  message: string;
}

export interface ProblemOptions {
  detail?: string;
  status?: number;
  errors?: FieldError[];
  retryable?: boolean;
  retryAfter?: number;
  userAction?: UserAction;
  headers?: Record<string, string>;
}

/**
 * The one error type services throw. It names a problem code, never an HTTP status; the error
 * handler turns it into problem+json.
 */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly options: ProblemOptions = {},
  ) {
    super(options.detail ?? PROBLEMS[code].title);
    this.name = 'AppError';
    this.status = options.status ?? PROBLEMS[code].status;
  }
}

export function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(PROBLEMS, code);
}
