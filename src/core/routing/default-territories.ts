import type { TerritoryRule } from './owner-router.js';

/**
 * The territories routing uses when `pql.yaml` has no `routing.territories` (NA, EMEA, APAC), matched
 * against the `territory` column of the CRM owners. Country codes are upper case, as the router compares them.
 */
export const DEFAULT_TERRITORIES: readonly TerritoryRule[] = [
  { territory: 'NA', countries: ['US', 'CA', 'MX'] },
  {
    territory: 'EMEA',
    countries: [
      'GB',
      'IE',
      'DE',
      'FR',
      'NL',
      'BE',
      'ES',
      'IT',
      'PT',
      'PL',
      'SE',
      'NO',
      'DK',
      'FI',
      'CH',
      'AT',
      'NG',
      'ZA',
      'AE',
      'IL',
    ],
  },
  {
    territory: 'APAC',
    countries: ['AU', 'NZ', 'IN', 'SG', 'JP', 'KR', 'CN', 'HK', 'ID', 'PH', 'VN', 'TH', 'MY'],
  },
];
