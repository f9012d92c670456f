/**
 * Admission of a custom resource against its stored CRD (crds/), in the API server's order for
 * a create (`kubectl create`, which is how CDK's kubectl handler first applies a manifest, with
 * kubectl's default strict field validation):
 * 1. `status` is dropped when the CRD has a status subresource (a create ignores it);
 * 2. an unknown field refuses the request outright ("strict decoding error: unknown field"),
 *    before anything else is checked; without strict validation it would be pruned silently;
 * 3. schema defaults are applied (nulls of non-nullable fields pruned first);
 * 4. the structural schema is checked: type, required, enum, pattern, format, bounds of
 *    numbers, strings, lists and maps, list-type set/map uniqueness, int-or-string, anyOf /
 *    allOf / oneOf / not; metadata as the API server checks a custom resource's ObjectMeta
 *    (name, label syntax);
 * 5. every `x-kubernetes-validations` rule runs (cel-rules.ts), unless step 4 found an error the
 *    API server counts as blocking (wrong type, enum, required, too long, too many).
 * Not covered: the controllers' own admission webhooks (KEDA's, the load balancer
 * controller's), CEL cost limits, and what only an update does (transition rules, ratcheting).
 */
import { re2Pattern } from './cel-kubernetes.ts';
import { ruleProblems } from './cel-rules.ts';
import type { K8sObject } from './cluster.ts';
import { type Schema, servedVersion } from './crds/index.ts';

export interface Admission {
  /** What the API server would refuse the object for; empty when it would accept it. */
  readonly problems: readonly string[];
  /** Transition rules not run, because a create has no old object. */
  readonly skippedRules: readonly string[];
}

/** Schema keywords that only describe, or only steer server-side apply merges. */
const DESCRIPTIVE = new Set([
  'description',
  'title',
  'example',
  'externalDocs',
  'x-kubernetes-map-type',
]);

/** Every schema keyword the checker enforces; a stored CRD using another one fails its test. */
export const ENFORCED_KEYWORDS: ReadonlySet<string> = new Set([
  'type',
  'properties',
  'additionalProperties',
  'required',
  'items',
  'enum',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'nullable',
  'default',
  'anyOf',
  'allOf',
  'oneOf',
  'not',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
]);

/** Formats the checker validates; the API server validates more, which are ignored here. */
export const ENFORCED_FORMATS: ReadonlySet<string> = new Set(['int32', 'int64', 'date-time']);

/** Keywords of `schema` and its sub-schemas that the checker neither enforces nor may ignore. */
export function unenforcedKeywords(schema: Schema, path = ''): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (!ENFORCED_KEYWORDS.has(key) && !DESCRIPTIVE.has(key)) found.push(`${path || '.'}: ${key}`);
    if (key === 'format' && !ENFORCED_FORMATS.has(value)) found.push(`${path}: format ${value}`);
  }
  const children: [string, Schema][] = [
    ...Object.entries<Schema>(schema.properties ?? {}).map(
      ([k, s]) => [`${path}.${k}`, s] as [string, Schema],
    ),
    ...(typeof schema.additionalProperties === 'object'
      ? [[`${path}[*]`, schema.additionalProperties] as [string, Schema]]
      : []),
    ...(schema.items ? [[`${path}[]`, schema.items] as [string, Schema]] : []),
    ...['anyOf', 'allOf', 'oneOf'].flatMap((k) =>
      ((schema[k] ?? []) as Schema[]).map((s, i) => [`${path}(${k}${i})`, s] as [string, Schema]),
    ),
    ...(schema.not ? [[`${path}(not)`, schema.not] as [string, Schema]] : []),
  ];
  return [...found, ...children.flatMap(([p, s]) => unenforcedKeywords(s, p))];
}

/** Admits `object` against the CRD serving its apiVersion/kind; undefined when none is stored. */
export function admit(object: K8sObject): Admission | undefined {
  const found = servedVersion(object.apiVersion, object.kind);
  if (!found) return undefined;
  const schema = found.version.schema.openAPIV3Schema;
  const copy: K8sObject = structuredClone(object);
  if (found.version.subresources?.status) delete copy.status;
  // Strict decoding refuses the request before any validation runs. (The schema declares
  // metadata as a bare object: its fields are ObjectMeta's.)
  const { metadata, ...rest } = copy;
  const unknown = [...unknownMetadataFields(metadata), ...unknownFields(rest, schema, '')];
  if (unknown.length > 0) return { problems: unknown, skippedRules: [] };
  applyDefaults(copy, schema);
  const structural: Found = { problems: metadataProblems(metadata), blocking: false };
  validate(copy, schema, '', structural);
  if (structural.blocking) {
    return { problems: [...structural.problems, NOT_CHECKED], skippedRules: [] };
  }
  const rules = ruleProblems(copy, schema);
  return { problems: [...structural.problems, ...rules.problems], skippedRules: rules.skipped };
}

/** The API server's note when a blocking schema error keeps it from running the CEL rules. */
const NOT_CHECKED =
  'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

// --- step 2: strict field validation ---

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** Fields the schema does not know, as kubectl's strict field validation names them. */
function unknownFields(value: unknown, schema: Schema, path: string): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value)) {
    return schema.items
      ? value.flatMap((item, i) => unknownFields(item, schema.items, `${path}[${i}]`))
      : [];
  }
  if (!isObject(value) || schema.type !== 'object') return [];
  return Object.entries(value).flatMap(([name, item]) => {
    const property = schema.properties?.[name];
    if (property) return unknownFields(item, property, join(path, name));
    if (typeof schema.additionalProperties === 'object') {
      return unknownFields(item, schema.additionalProperties, `${path}[${name}]`);
    }
    if (schema.additionalProperties === true) return [];
    return [`strict decoding error: unknown field "${join(path, name)}"`];
  });
}

// --- step 3: defaults ---

/** Structural defaulting: missing fields get their default, and defaults are defaulted inside. */
function applyDefaults(value: unknown, schema: Schema): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  const additional =
    typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const [name, property] of Object.entries<Schema>(schema.properties ?? {})) {
    if (value[name] === null && !property.nullable) delete value[name];
    if (!(name in value) && property.default !== undefined)
      value[name] = structuredClone(property.default);
  }
  for (const [name, item] of Object.entries(value)) {
    const property = schema.properties?.[name] ?? additional;
    if (property) applyDefaults(item, property);
  }
}

// --- step 4: structural schema ---

interface Found {
  problems: string[];
  /** The object lacks the shape its rules were written for (see {@link block}). */
  blocking: boolean;
}

/**
 * Records an error of the kinds the API server's `hasBlockingErr` counts (wrong type, enum,
 * required, too long, too many): after one of them it does not run the CEL rules.
 */
function block(found: Found, problem: string): void {
  found.problems.push(problem);
  found.blocking = true;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: unknown, schema: Schema): boolean {
  const actual = jsonType(value);
  if (schema['x-kubernetes-int-or-string']) return actual === 'integer' || actual === 'string';
  if (schema.type === undefined) return true;
  if (schema.type === 'number') return actual === 'integer' || actual === 'number';
  return actual === schema.type;
}

const show = (value: unknown) => JSON.stringify(value);
const at = (path: string) => path || '<root>';

function validate(value: unknown, schema: Schema, path: string, found: Found): void {
  if (value === null && schema.nullable) return;
  if (!hasType(value, schema)) {
    const expected = schema['x-kubernetes-int-or-string'] ? 'integer or string' : schema.type;
    block(
      found,
      `${at(path)}: Invalid value: "${jsonType(value)}": ${at(path)} in body must be of type ${expected}: "${jsonType(value)}"`,
    );
    return;
  }
  if (schema.enum && !schema.enum.some((e: unknown) => show(e) === show(value))) {
    const allowed = schema.enum.map(show).join(', ');
    block(found, `${at(path)}: Unsupported value: ${show(value)}: supported values: ${allowed}`);
  }
  if (typeof value === 'string') stringProblems(value, schema, path, found);
  if (typeof value === 'number') numberProblems(value, schema, path, found);
  if (Array.isArray(value)) arrayProblems(value, schema, path, found);
  if (isObject(value)) objectProblems(value, schema, path, found);
  combinatorProblems(value, schema, path, found);
}

/** RFC 3339 date-time, as the API server's `date-time` format accepts it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function stringProblems(value: string, schema: Schema, path: string, found: Found): void {
  const length = [...value].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    block(found, `${at(path)}: Too long: may not be longer than ${schema.maxLength}`);
  }
  if (schema.minLength !== undefined && length < schema.minLength) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: ${at(path)} in body should be at least ${schema.minLength} chars long`,
    );
  }
  if (schema.pattern !== undefined && !re2Pattern(schema.pattern).test(value)) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: ${at(path)} in body should match '${schema.pattern}'`,
    );
  }
  if (schema.format === 'date-time' && !DATE_TIME.test(value)) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: ${at(path)} in body must be of type date-time: ${show(value)}`,
    );
  }
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [-(2 ** 63), 2 ** 63 - 1],
};

function numberProblems(value: number, schema: Schema, path: string, found: Found): void {
  const where = `${at(path)}: Invalid value: ${value}: ${at(path)} in body`;
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = schema;
  if (minimum !== undefined && (exclusiveMinimum ? value <= minimum : value < minimum)) {
    found.problems.push(
      `${where} should be greater than ${exclusiveMinimum ? '' : 'or equal to '}${minimum}`,
    );
  }
  if (maximum !== undefined && (exclusiveMaximum ? value >= maximum : value > maximum)) {
    found.problems.push(
      `${where} should be less than ${exclusiveMaximum ? '' : 'or equal to '}${maximum}`,
    );
  }
  if (multipleOf !== undefined && value % multipleOf !== 0) {
    found.problems.push(`${where} should be a multiple of ${multipleOf}`);
  }
  const range = INT_RANGE[schema.format];
  if (range && (value < range[0] || value > range[1])) {
    found.problems.push(`${where} must be of type ${schema.format}`);
  }
}

function arrayProblems(value: unknown[], schema: Schema, path: string, found: Found): void {
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    block(
      found,
      `${at(path)}: Too many: ${value.length}: must have at most ${schema.maxItems} items`,
    );
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    found.problems.push(
      `${at(path)}: Invalid value: ${value.length}: ${at(path)} in body should have at least ${schema.minItems} items`,
    );
  }
  if (schema.items) {
    for (const [i, item] of value.entries()) validate(item, schema.items, `${path}[${i}]`, found);
  }
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== 'set' && listType !== 'map') return;
  const keys: string[] = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const identity =
      listType === 'set'
        ? show(item)
        : show(Object.fromEntries(keys.map((k) => [k, (item as Record<string, unknown>)?.[k]])));
    if (seen.has(identity)) found.problems.push(`${path}[${i}]: Duplicate value: ${identity}`);
    seen.add(identity);
  });
}

function objectProblems(
  value: Record<string, unknown>,
  schema: Schema,
  path: string,
  found: Found,
): void {
  for (const name of schema.required ?? []) {
    if (!(name in value)) block(found, `${join(path, name)}: Required value`);
  }
  const count = Object.keys(value).length;
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    block(
      found,
      `${at(path)}: Too many: ${count}: must have at most ${schema.maxProperties} items`,
    );
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    found.problems.push(
      `${at(path)}: Invalid value: ${count}: ${at(path)} in body should have at least ${schema.minProperties} properties`,
    );
  }
  const additional =
    typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const [name, item] of Object.entries(value)) {
    const property = schema.properties?.[name];
    if (property) validate(item, property, join(path, name), found);
    else if (additional) validate(item, additional, `${path}[${name}]`, found);
  }
}

/** anyOf / allOf / oneOf / not: value validations on the same value (no types of their own). */
function combinatorProblems(value: unknown, schema: Schema, path: string, found: Found): void {
  const passes = (branch: Schema) => {
    const trial: Found = { problems: [], blocking: false };
    validate(value, branch, path, trial);
    return trial.problems.length === 0;
  };
  if (schema.anyOf && !schema.anyOf.some(passes)) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: must validate at least one schema (anyOf)`,
    );
  }
  if (schema.oneOf && schema.oneOf.filter(passes).length !== 1) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: must validate one and only one schema (oneOf)`,
    );
  }
  for (const branch of schema.allOf ?? []) validate(value, branch, path, found);
  if (schema.not && passes(schema.not)) {
    found.problems.push(
      `${at(path)}: Invalid value: ${show(value)}: must not validate the schema (not)`,
    );
  }
}

// --- metadata (ObjectMeta, validated by the API server for every kind) ---

const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'labels',
  'annotations',
  'finalizers',
  'ownerReferences',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
  'managedFields',
]);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function labelKeyProblem(key: string): string | undefined {
  const [prefix, name] = key.includes('/') ? key.split(/\/(.*)/s) : [undefined, key];
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'prefix part must be a DNS subdomain';
  }
  if (!name || name.length > 63 || !LABEL_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', at most 63, starting and ending with an alphanumeric character";
  }
  return undefined;
}

function unknownMetadataFields(metadata: unknown): string[] {
  return Object.keys(isObject(metadata) ? metadata : {})
    .filter((k) => !OBJECT_META_FIELDS.has(k))
    .map((k) => `strict decoding error: unknown field "metadata.${k}"`);
}

/** ObjectMeta checks of a create (a custom resource's name is a DNS subdomain), and labels. */
function metadataProblems(metadata: unknown): string[] {
  if (!isObject(metadata)) return ['metadata: Required value'];
  const problems: string[] = [];
  const { name, generateName } = metadata;
  if (name === undefined && generateName === undefined) {
    problems.push('metadata.name: Required value: name or generateName is required');
  }
  if (typeof name === 'string' && (name.length > 253 || !DNS_SUBDOMAIN.test(name))) {
    problems.push(
      `metadata.name: Invalid value: ${show(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    );
  }
  for (const [key, value] of Object.entries(isObject(metadata.labels) ? metadata.labels : {})) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) problems.push(`metadata.labels: Invalid value: ${show(key)}: ${keyProblem}`);
    if (
      typeof value !== 'string' ||
      value.length > 63 ||
      (value !== '' && !LABEL_NAME.test(value))
    ) {
      problems.push(
        `metadata.labels: Invalid value: ${show(value)}: a valid label value must be 63 characters or less, alphanumeric, '-', '_' or '.'`,
      );
    }
  }
  return problems;
}
