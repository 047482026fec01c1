/**
 * The variables a secret manager may supply. One list, so the Vault and AWS adapters, the
 * unknown-key warning and the README agree on what a secret document may hold.
 */
export const SECRET_VARIABLES = [
  'JWT_SIGNING_KEY',
  'JWT_VERIFY_KEYS',
  'ENCRYPTION_KEYS',
  'SCHWAB_CLIENT_SECRET',
  'METRICS_TOKEN',
  'SMTP_URL',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

export function isSecretVariable(name: string): name is SecretVariable {
  return (SECRET_VARIABLES as readonly string[]).includes(name);
}
