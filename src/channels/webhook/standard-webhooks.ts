import { createHmac } from 'node:crypto';

/**
 * Signs a payload per the Standard Webhooks spec: HMAC-SHA256 over `${id}.${timestamp}.${body}` with the
 * secret's bytes (a `whsec_` secret is base64 after the prefix), as `v1,<base64>`.
 */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const key = secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
  const signature = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${signature}`;
}
