import { describe, expect, it } from 'vitest';
import { FREE_MAIL_DOMAINS, emailDomain, isFreeMailDomain, normalizeDomain } from './domain.js';

describe('normalizeDomain', () => {
  it('strips scheme, www., path, port and case: https://www.ACME.com/ is acme.com', () => {
    expect(normalizeDomain('https://www.ACME.com/')).toBe('acme.com');
    expect(normalizeDomain('http://acme.com:8080/about?x=1#top')).toBe('acme.com');
    expect(normalizeDomain('  WWW.Acme.COM. ')).toBe('acme.com');
    expect(normalizeDomain('acme.com/about')).toBe('acme.com');
    expect(normalizeDomain('eu.acme.co.uk')).toBe('eu.acme.co.uk');
  });

  it('returns undefined for text that is not a domain', () => {
    expect(normalizeDomain('')).toBeUndefined();
    expect(normalizeDomain('n/a')).toBeUndefined();
    expect(normalizeDomain('acme')).toBeUndefined();
  });
});

describe('emailDomain and free mail', () => {
  it('takes the normalized domain after the last @', () => {
    expect(emailDomain('Ann.Lee@Acme.COM')).toBe('acme.com');
    expect(emailDomain('no-at-sign')).toBeUndefined();
    expect(emailDomain('trailing@')).toBeUndefined();
  });

  it('knows the common free-mail providers', () => {
    for (const d of ['gmail.com', 'outlook.com', 'hotmail.com', 'yahoo.com', 'icloud.com', 'proton.me'])
      expect(isFreeMailDomain(d)).toBe(true);
    expect(isFreeMailDomain('acme.com')).toBe(false);
    expect(FREE_MAIL_DOMAINS.size).toBeGreaterThanOrEqual(30);
  });
});
