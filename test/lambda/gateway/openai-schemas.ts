/**
 * Validates Axon's admin API answers against OpenAI's own schemas for the same routes, as
 * published in its OpenAPI document (test/fixtures/openai-openapi-organization.json, copied
 * unchanged with its source by scripts/extract-openai-schemas.mjs), with ajv.
 *
 * OpenAI's schemas allow properties they do not list, so `extraProperties` names those an answer
 * adds: tests compare them with what docs/api.md says Axon adds, so a field can neither go
 * missing nor appear undocumented.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

interface Fixture {
  source: { repository: string; commit: string };
  routes: Record<string, { response200: Record<string, unknown> }>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

export const openapi: Fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/openai-openapi-organization.json', import.meta.url), 'utf8'),
);

// OpenAPI's own keywords (`x-*`, `example`, `format: unixtime`) are not JSON Schema: not strict.
const ajv = new Ajv2020({
  strict: false,
  allErrors: true,
  discriminator: true,
  validateFormats: false,
});
const compiled = new Map<string, ValidateFunction>();

function compile(key: string, schema: Record<string, unknown>): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) {
    // The fragments' refs are `#/components/schemas/...`: give each root the components.
    validate = ajv.compile({ ...schema, components: openapi.components });
    compiled.set(key, validate);
  }
  return validate;
}

/** The ajv errors of `value` against OpenAI's 200 schema of `route` (`GET /organization/...`). */
export function routeErrors(route: string, value: unknown): string[] {
  const entry = openapi.routes[route];
  if (!entry) throw new Error(`no OpenAI schema stored for ${route}`);
  const validate = compile(route, entry.response200);
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** The ajv errors of `value` against one of OpenAI's component schemas. */
export function schemaErrors(name: string, value: unknown): string[] {
  const validate = compile(`#${name}`, { $ref: `#/components/schemas/${name}` });
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Top-level properties of `value` that OpenAI's component schema `name` does not list. */
export function extraProperties(name: string, value: Record<string, unknown>): string[] {
  const schema = openapi.components.schemas[name];
  const listed = new Set(Object.keys((schema?.properties as object | undefined) ?? {}));
  return Object.keys(value)
    .filter((key) => !listed.has(key))
    .sort();
}
