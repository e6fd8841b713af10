/**
 * The JSON Schema (draft 2020-12) of the definition language, generated from the same schema the parser
 * validates with, so editors and the parser agree on keys and shapes. Cross-field rules (references,
 * cycles, anchors of `within`, funnel `reached`) are checked by the parser only.
 */
import { definitionSchema } from './parse-definition.js';
import { toJsonSchemaDocument } from './schema.js';

/** Returns the JSON Schema document of one PQL definition file (YAML or JSON). */
export function definitionJsonSchema(): { readonly [keyword: string]: unknown } {
  return toJsonSchemaDocument(definitionSchema, {
    title: 'PQL definition',
    description:
      'One Product Qualified Lead definition: fit, named signals, qualify/exclude conditions, expiry, routing and next step. See docs/definitions.md.',
  });
}
