/**
 * Refreshes test/fixtures/openai-openapi-organization.json from OpenAI's published OpenAPI
 * document: the 200 response schema (with parameters and request body) of each admin route Axon
 * answers, and every component schema they reference, copied unchanged, with the source.
 *
 *   git clone https://github.com/openai/openai-openapi /tmp/openai-openapi
 *   node scripts/extract-openai-schemas.mjs /tmp/openai-openapi
 *   npx biome format --write test/fixtures/openai-openapi-organization.json
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const repo = process.argv[2];
if (!repo) {
  console.error('usage: node scripts/extract-openai-schemas.mjs <openai-openapi checkout>');
  process.exit(2);
}
const git = (...args) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
// From the commit, not the work tree: a bare clone or a mirror works too.
const spec = JSON.parse(git('show', 'HEAD:openapi.json'));
const schemas = spec.components.schemas;
const ROUTES = [
  ['get', '/organization/usage/completions'],
  ['get', '/organization/costs'],
  ['get', '/organization/admin_api_keys'],
  ['post', '/organization/admin_api_keys'],
  ['get', '/organization/admin_api_keys/{key_id}'],
  ['delete', '/organization/admin_api_keys/{key_id}'],
  ['get', '/organization/projects/{project_id}/api_keys'],
  ['get', '/organization/projects/{project_id}/api_keys/{api_key_id}'],
  ['delete', '/organization/projects/{project_id}/api_keys/{api_key_id}'],
];
const seen = new Set();
const walk = (node) => {
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      const name = value.split('/').pop();
      if (!seen.has(name)) {
        seen.add(name);
        walk(schemas[name]);
      }
    } else walk(value);
  }
};
const routes = {};
for (const [method, path] of ROUTES) {
  const op = spec.paths[path][method];
  const response200 = op.responses['200'].content['application/json'].schema;
  walk(response200);
  routes[`${method.toUpperCase()} ${path}`] = {
    operationId: op.operationId,
    parameters: op.parameters ?? [],
    ...(op.requestBody && { requestBody: op.requestBody.content['application/json'].schema }),
    response200,
  };
}
const doc = {
  $comment:
    "Fragments of OpenAI's published OpenAPI document, copied unchanged: the 200 response schema (and parameters, request body) of each route Axon's admin API answers, and every component schema they reference. Tests validate Axon's answers against them with ajv (test/lambda/gateway/openai-schemas.ts). Refresh with scripts/extract-openai-schemas.mjs.",
  source: {
    repository: 'https://github.com/openai/openai-openapi',
    commit: git('rev-parse', 'HEAD'),
    path: 'openapi.json',
    committed: git('log', '-1', '--format=%cI'),
    openapi: spec.openapi,
    info_version: spec.info.version,
  },
  routes,
  components: {
    schemas: Object.fromEntries([...seen].sort().map((name) => [name, schemas[name]])),
  },
};
writeFileSync(
  new URL('../test/fixtures/openai-openapi-organization.json', import.meta.url),
  `${JSON.stringify(doc, null, 2)}\n`,
);
