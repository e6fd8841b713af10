/** The hand-written OpenAPI 3.1 description of every route of `pql serve`. */
export function openApiDocument(): Record<string, unknown> {
  const error = { $ref: '#/components/schemas/Error' };
  const errors = (...codes: number[]): Record<string, unknown> =>
    Object.fromEntries(
      codes.map((c) => [
        String(c),
        { description: ERROR_TEXT[c] ?? 'error', content: { 'application/json': { schema: error } } },
      ]),
    );
  const json = (schema: Record<string, unknown>, description = 'OK'): Record<string, unknown> => ({
    description,
    content: { 'application/json': { schema } },
  });
  const segment = (type: string): Record<string, unknown> => ({
    post: {
      tags: ['ingest: Segment'],
      summary: `Segment ${type} call`,
      security: [{ writeKeyBasic: [] }, {}],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/SegmentMessage' } } },
      },
      responses: {
        '200': json({ $ref: '#/components/schemas/IngestResult' }),
        ...errors(400, 401, 413, 415, 429, 503),
      },
    },
  });
  const posthog = {
    post: {
      tags: ['ingest: PostHog'],
      summary:
        'PostHog capture: { api_key, batch: [...] }, an array, or one event with api_key; gzip bodies accepted',
      parameters: [
        { name: 'compression', in: 'query', required: false, schema: { enum: ['gzip-js', 'gzip'] } },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: {
        '200': json({ $ref: '#/components/schemas/IngestResult' }),
        ...errors(400, 401, 413, 415, 429, 503),
      },
    },
  };
  const admin = [{ adminBearer: [] }];
  const limit = {
    name: 'limit',
    in: 'query',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000 },
  };
  const definition = { name: 'definition', in: 'query', required: false, schema: { type: 'string' } };
  const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  /** What definition validate and put take: the definition's text, and for validate the id it would get. */
  const definitionBody = {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['text'],
          properties: {
            text: { type: 'string', description: 'the definition as YAML (or JSON) text' },
            id: { type: 'string', description: 'the id it will be saved under (validate only)' },
          },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'PQL ingest and read API',
      version: '0.1.0',
      description:
        'Segment- and PostHog-compatible ingest, live PQL stream and read API of `pql serve`. See docs/http.md.',
    },
    paths: {
      ...Object.fromEntries(
        ['track', 'identify', 'group', 'page', 'screen', 'alias'].map((t) => [`/v1/${t}`, segment(t)]),
      ),
      '/v1/batch': {
        post: {
          tags: ['ingest: Segment'],
          summary: 'Segment batch: up to 500 KB; batch-level context and sentAt apply to every message',
          security: [{ writeKeyBasic: [] }, {}],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['batch'],
                  properties: {
                    batch: { type: 'array', items: { $ref: '#/components/schemas/SegmentMessage' } },
                    context: { type: 'object' },
                    sentAt: { type: 'string', format: 'date-time' },
                    writeKey: { type: 'string' },
                  },
                },
              },
            },
          },
          responses: {
            '200': json({ $ref: '#/components/schemas/IngestResult' }),
            ...errors(400, 401, 413, 415, 429, 503),
          },
        },
      },
      '/batch/': posthog,
      '/capture/': posthog,
      '/e/': posthog,
      '/i/v0/e/': posthog,
      '/api/pqls': {
        get: {
          summary: 'PQLs, newest qualification first',
          security: admin,
          parameters: [
            definition,
            { name: 'status', in: 'query', required: false, schema: { enum: ['open', 'expired'] } },
            {
              name: 'since',
              in: 'query',
              required: false,
              description: 'qualifiedAt >= since (ISO-8601 or epoch ms)',
              schema: { type: 'string' },
            },
            {
              name: 'owner',
              in: 'query',
              required: false,
              description:
                "the rep's owner id: routing's assignment on the PQL's alert, else the account's CRM owner",
              schema: { type: 'string' },
            },
            limit,
          ],
          responses: {
            '200': json({
              type: 'object',
              properties: { pqls: { type: 'array', items: { $ref: '#/components/schemas/Pql' } } },
            }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/api/accounts/{id}': {
        get: {
          summary:
            'An account: traits, activity, clause-by-clause state per definition (value vs threshold, missing), its PQLs, its recent timeline',
          security: admin,
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404) },
        },
      },
      '/api/near-pqls': {
        get: {
          summary: 'Accounts closest to qualifying (mean clause progress), with what is missing',
          security: admin,
          parameters: [definition, limit],
          responses: {
            '200': json({
              type: 'object',
              properties: { nearPqls: { type: 'array', items: { type: 'object' } } },
            }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/api/definitions': {
        get: {
          summary: 'Live definitions with their versions',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(401, 403) },
        },
      },
      '/api/stats': {
        get: {
          summary: 'Ingest and engine statistics',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(401, 403) },
        },
      },
      '/api/stream': {
        get: {
          summary:
            'Server-Sent Events: `pql` for each new PQL (after it is committed), `corrected`, `expired`',
          security: admin,
          responses: {
            '200': {
              description: 'an event stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors(401, 403),
          },
        },
      },
      '/api/alerts': {
        get: {
          summary:
            'The alert outbox: `{ alerts }`, newest first; filter `status` (pending, delivered, dead, disabled)',
          security: admin,
          parameters: [
            {
              name: 'status',
              in: 'query',
              required: false,
              schema: { enum: ['pending', 'delivered', 'dead', 'disabled'] },
            },
            limit,
          ],
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403) },
        },
      },
      '/api/alerts/{id}': {
        get: {
          summary: 'One alert delivery with its payload (the id URL-encoded: it holds "/" and ":")',
          security: admin,
          parameters: [idParameter],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404) },
        },
      },
      '/api/alerts/{id}/retry': {
        post: {
          summary: 'Queue a dead-lettered or disabled alert again (409 for any other status)',
          security: admin,
          parameters: [idParameter],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404, 409) },
        },
      },
      '/webhooks/stripe': {
        post: {
          tags: ['sources'],
          summary:
            'Stripe webhook: the raw Event body, verified against `Stripe-Signature` with PQL_STRIPE_WEBHOOK_SECRET (300 s tolerance)',
          parameters: [
            { name: 'stripe-signature', in: 'header', required: true, schema: { type: 'string' } },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: {
            '200': json({ type: 'object', properties: { received: { type: 'boolean' } } }),
            ...errors(400, 404),
          },
        },
      },
      '/api/crm/companies': {
        post: {
          tags: ['sources'],
          summary:
            'Upsert CRM companies: `{ companies: [...] }` (crm/companies.csv columns) or HubSpot `{ results: [{ id, properties }] }`',
          security: admin,
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: { '200': json({ $ref: '#/components/schemas/UpsertResult' }), ...errors(400, 401, 403) },
        },
      },
      '/api/crm/owners': {
        post: {
          tags: ['sources'],
          summary:
            'Upsert CRM owners (reps): `{ owners: [...] }` (crm/owners.csv columns) or HubSpot owners `{ results: [...] }`',
          security: admin,
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: { '200': json({ $ref: '#/components/schemas/UpsertResult' }), ...errors(400, 401, 403) },
        },
      },
      '/api/joins': {
        get: {
          tags: ['sources'],
          summary:
            'Join health: accounts matched to CRM companies and Stripe customers by id or domain, unmatched, ambiguous, free-mail',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(401, 403) },
        },
      },
      '/api/definitions/{id}': {
        get: {
          summary: 'One definition with its versions',
          security: admin,
          parameters: [idParameter],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404) },
        },
        put: {
          summary: 'Write a definition ({ text }: its YAML) to the definitions folder as a new version',
          security: admin,
          parameters: [idParameter],
          requestBody: definitionBody,
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403, 422) },
        },
      },
      '/api/definitions/validate': {
        post: {
          summary: 'Validate a definition ({ text }: its YAML) without saving it',
          security: admin,
          requestBody: definitionBody,
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403, 422) },
        },
      },
      '/api/analysis/discover': {
        get: {
          tags: ['dashboard'],
          summary: 'Signal discovery over the stored history (see docs/definitions.md)',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403) },
        },
      },
      '/api/analysis/cohorts': {
        get: {
          tags: ['dashboard'],
          summary: 'The sign-up cohort MRR view over the store (equals pql cohorts --data-dir D --json)',
          security: admin,
          parameters: [
            { name: 'by', in: 'query', required: false, schema: { enum: ['week', 'month'] } },
            { name: 'split', in: 'query', required: false, schema: { enum: ['definition'] } },
          ],
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403) },
        },
      },
      '/api/analysis/backtest': {
        get: {
          tags: ['dashboard'],
          summary:
            'The live definitions replayed over the stored history, with their measures (equals pql backtest --data-dir D --json)',
          security: admin,
          parameters: [
            {
              name: 'definitions',
              in: 'query',
              required: false,
              description: 'comma-separated definition ids (default: all live ones)',
              schema: { type: 'string' },
            },
            {
              name: 'conversionDays',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 3650 },
            },
          ],
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403) },
        },
      },
      '/api/dashboard/queue': {
        get: {
          tags: ['dashboard'],
          summary: 'The dashboard PQL queue',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(401, 403) },
        },
      },
      '/api/dashboard/accounts/{id}': {
        get: {
          tags: ['dashboard'],
          summary: "An account's trait history, PQLs and alerts for the dashboard",
          security: admin,
          parameters: [idParameter],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404) },
        },
      },
      '/api/dashboard/alerts': {
        get: {
          tags: ['dashboard'],
          summary: 'The alert outbox with counts by status',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403) },
        },
      },
      '/api/dashboard/alerts/{id}/retry': {
        post: {
          tags: ['dashboard'],
          summary: 'Retry a dead or disabled alert',
          security: admin,
          parameters: [idParameter],
          responses: { '200': json({ type: 'object' }), ...errors(401, 403, 404, 409) },
        },
      },
      '/api/dashboard/pqls/{id}/disposition': {
        post: {
          tags: ['dashboard'],
          summary: 'Record a disposition (contacted, won, disqualified) on a PQL',
          security: admin,
          parameters: [idParameter],
          responses: { '201': json({ type: 'object' }), ...errors(400, 401, 403, 404) },
        },
      },
      '/api/dashboard/backtest': {
        post: {
          tags: ['dashboard'],
          summary: 'Backtest a definition (YAML body) over the stored history',
          security: admin,
          responses: { '200': json({ type: 'object' }), ...errors(400, 401, 403, 422) },
        },
      },
      '/': {
        get: {
          tags: ['dashboard'],
          summary: 'The dashboard (static files)',
          responses: { '200': { description: 'HTML' } },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': json({ type: 'object' }) } } },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: {
            '200': { description: 'text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        writeKeyBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'the write key as the username, no password',
        },
        adminBearer: { type: 'http', scheme: 'bearer', description: 'the admin token (PQL_ADMIN_TOKEN)' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'path'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, path: { type: 'string' } },
            },
            rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
          },
        },
        Rejection: {
          type: 'object',
          required: ['index', 'code', 'path', 'message'],
          properties: {
            index: { type: 'integer' },
            code: { type: 'string' },
            path: { type: 'string' },
            message: { type: 'string' },
          },
        },
        IngestResult: {
          type: 'object',
          properties: {
            success: { type: 'boolean', description: 'Segment endpoints' },
            status: { type: 'integer', description: 'PostHog endpoints (1)' },
            accepted: { type: 'integer' },
            rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
          },
        },
        SegmentMessage: {
          type: 'object',
          properties: {
            type: { enum: ['track', 'identify', 'group', 'page', 'screen', 'alias'] },
            messageId: { type: 'string' },
            userId: { type: ['string', 'number'] },
            anonymousId: { type: ['string', 'number'] },
            event: { type: 'string' },
            name: { type: 'string' },
            groupId: { type: ['string', 'number'] },
            previousId: { type: ['string', 'number'] },
            properties: { type: 'object' },
            traits: { type: 'object' },
            context: { type: 'object', properties: { groupId: { type: ['string', 'number'] } } },
            timestamp: { type: ['string', 'number'] },
            originalTimestamp: { type: ['string', 'number'] },
            sentAt: { type: ['string', 'number'] },
            writeKey: { type: 'string' },
          },
        },
        UpsertResult: {
          type: 'object',
          properties: {
            accepted: { type: 'integer' },
            rejected: { type: 'array', items: { $ref: '#/components/schemas/Rejection' } },
          },
        },
        Pql: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            accountId: { type: 'string' },
            definitionId: { type: 'string' },
            definitionVersion: { type: 'integer' },
            status: { enum: ['open', 'expired'] },
            qualifiedAt: { type: 'string', format: 'date-time' },
            detectedAt: { type: 'string', format: 'date-time' },
            expiredAt: { type: ['string', 'null'], format: 'date-time' },
            triggerEventId: { type: ['string', 'null'] },
            corrections: { type: 'array', items: { type: 'string', format: 'date-time' } },
            explanation: { type: 'object' },
            owner: {
              description: 'in GET /api/pqls: the assigned rep (routing on the alert, else the CRM owner)',
              type: ['object', 'null'],
              properties: { ownerId: { type: 'string' }, source: { enum: ['routing', 'crm'] } },
            },
          },
        },
      },
    },
  };
}

const ERROR_TEXT: Record<number, string> = {
  400: 'bad input, with the reason (and `rejected` for messages)',
  401: 'missing or unknown key or token',
  403: 'the token may not read',
  404: 'not found',
  409: 'the resource is not in a state that allows this',
  422: 'the definition does not validate',
  413: 'body larger than the limit (raw or decoded)',
  415: 'unsupported Content-Encoding',
  429: 'rate limited; see Retry-After',
  503: 'the store cannot keep up; see Retry-After',
};
