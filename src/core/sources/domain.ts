/**
 * Consumer mailbox providers: an address on one of these says nothing about the company, so a domain on
 * this list never joins an account to a CRM company or a Stripe customer (DESIGN.md, joins).
 */
export const FREE_MAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'hotmail.co.uk',
  'live.com',
  'msn.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'ymail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'pm.me',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'mail.ru',
  'yandex.com',
  'yandex.ru',
  'zoho.com',
  'fastmail.com',
  'hey.com',
  'tutanota.com',
  'qq.com',
  '163.com',
  'naver.com',
]);

/**
 * Normalizes a domain or URL as people type it into a CRM: lowercase, no scheme, no credentials, no
 * `www.`, no port, path, query or trailing dot (`https://www.ACME.com/about` → `acme.com`). Returns
 * undefined when nothing domain-like is left.
 */
export function normalizeDomain(input: string): string | undefined {
  let text = input.trim().toLowerCase();
  if (text === '') return undefined;
  const scheme = text.indexOf('://');
  if (scheme >= 0) text = text.slice(scheme + 3);
  else if (text.startsWith('//')) text = text.slice(2);
  const end = text.search(/[/?#]/);
  if (end >= 0) text = text.slice(0, end);
  const at = text.lastIndexOf('@');
  if (at >= 0) text = text.slice(at + 1);
  const port = text.indexOf(':');
  if (port >= 0) text = text.slice(0, port);
  while (text.endsWith('.')) text = text.slice(0, -1);
  while (text.startsWith('www.')) text = text.slice(4);
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(text)) return undefined;
  return text;
}

/** The normalized domain of an email address (`Ann@Sub.Acme.com` → `sub.acme.com`); undefined if malformed. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return undefined;
  return normalizeDomain(email.slice(at + 1));
}

/** Whether a normalized domain is a free-mail provider's (which never joins anything). */
export function isFreeMailDomain(domain: string): boolean {
  return FREE_MAIL_DOMAINS.has(domain);
}
