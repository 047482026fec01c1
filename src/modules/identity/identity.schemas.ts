import { Type } from 'typebox';

const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
/** Length and commonness are checked by the service (422 weak_password); this only bounds the input. */
const NewPassword = Type.String({ maxLength: 1024, description: '12–128 characters, not a common password' });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: NewPassword,
    name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  email_verified: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  roles: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});

export const TokenBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const EmailBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 320 }) },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    totp_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const TokenPairSchema = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds the access token stays valid' }),
  session_id: Type.String({ format: 'uuid' }),
});

export const SessionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  ip_address: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  is_current: Type.Boolean(),
});

export const SessionList = Type.Object({
  data: Type.Array(SessionSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
});

export const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const IdParams = Type.Object({ id: Type.String({ maxLength: 200 }) });

export const PatchMeBody = Type.Object(
  { name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])) },
  { additionalProperties: false },
);

const CurrentPassword = Type.String({ minLength: 1, maxLength: 1024 });

export const ChangePasswordBody = Type.Object(
  { current_password: CurrentPassword, new_password: NewPassword },
  { additionalProperties: false },
);

export const PasswordResetBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }), new_password: NewPassword },
  { additionalProperties: false },
);

export const EmailChangeBody = Type.Object(
  { new_email: Email, password: CurrentPassword },
  { additionalProperties: false },
);

const TotpCode = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'a current TOTP code or a recovery code',
});

export const TotpConfirmBody = Type.Object({ totp_code: TotpCode }, { additionalProperties: false });

export const TotpDisableBody = Type.Object(
  { password: CurrentPassword, totp_code: TotpCode },
  { additionalProperties: false },
);

export const TotpEnrollment = Type.Object({
  secret: Type.String({ description: 'base32, for manual entry' }),
  otpauth_uri: Type.String({ description: 'otpauth://totp/… (show as a QR code)' }),
});

export const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: 'each works once; shown only now' }),
});
