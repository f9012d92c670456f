/**
 * Runs a CRD's `x-kubernetes-validations` rules on an object the way the API server does on a
 * create: every rule at every schema node the object has a value for, with `self` bound to that
 * value, and the failure reported with the rule's `message` / `messageExpression`, `reason` and
 * `fieldPath`. A rule that does not compile or errors when run is a failure too.
 *
 * Transition rules (those reading `oldSelf`) are skipped and listed: the API server only runs
 * them on an update, against the stored object, and this rehearsal models the first create.
 * One with `optionalOldSelf: true` would run on a create with `oldSelf` absent; CEL optionals are
 * not supported here, so such a rule is reported as a failure rather than skipped.
 */
import { type CelInput, isCelError } from '@bufbuild/cel';
import { celValue, compileRule } from './cel-kubernetes.ts';
import type { Schema } from './crds/index.ts';

interface ValidationRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?:
    | 'FieldValueInvalid'
    | 'FieldValueForbidden'
    | 'FieldValueRequired'
    | 'FieldValueDuplicate';
  readonly fieldPath?: string;
  readonly optionalOldSelf?: boolean;
}

export interface RuleReport {
  /** Failures, each as the API server words them, with the rule that failed. */
  readonly problems: string[];
  /** Transition rules not run on a create, as `path: rule`. */
  readonly skipped: string[];
}

/** What a rule at the root sees of `metadata`: the API server exposes only these two fields. */
const ROOT_METADATA: Schema = {
  type: 'object',
  properties: { name: { type: 'string' }, generateName: { type: 'string' } },
};

const rootSchemas = new WeakMap<Schema, Schema>();

/** The schema `self` has at the root: the object's, with `metadata` narrowed as above. */
export function rootSelfSchema(schema: Schema): Schema {
  const root = rootSchemas.get(schema) ?? {
    ...schema,
    properties: { ...schema.properties, metadata: ROOT_METADATA },
  };
  rootSchemas.set(schema, root);
  return root;
}

/** Runs every rule of `schema` on `object` (already defaulted and structurally valid). */
export function ruleProblems(object: unknown, schema: Schema): RuleReport {
  const report: RuleReport = { problems: [], skipped: [] };
  walk(object, schema, '', report);
  return report;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function walk(value: unknown, schema: Schema, path: string, report: RuleReport): void {
  if (value === undefined || value === null) return;
  const self = path === '' ? rootSelfSchema(schema) : schema;
  for (const rule of (schema['x-kubernetes-validations'] ?? []) as ValidationRule[]) {
    evaluate(rule, value, self, path, report);
  }
  if (Array.isArray(value)) {
    if (!schema.items) return;
    for (const [i, item] of value.entries()) walk(item, schema.items, `${path}[${i}]`, report);
    return;
  }
  if (typeof value !== 'object') return;
  const additional =
    typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    const property = schema.properties?.[name];
    if (property) walk(item, property, join(path, name), report);
    else if (additional) walk(item, additional, `${path}[${name}]`, report);
  }
}

function evaluate(
  rule: ValidationRule,
  value: unknown,
  schema: Schema,
  path: string,
  report: RuleReport,
): void {
  const where = path || '<root>';
  const compiled = compileRule(rule.rule, schema);
  const named = `[rule: ${rule.rule.replace(/\s+/g, ' ')}]`;
  if (compiled.transition && !rule.optionalOldSelf) {
    report.skipped.push(`${where}: ${rule.rule}`);
    return;
  }
  if (compiled.transition) {
    report.problems.push(
      `${where}: cannot run a transition rule with optionalOldSelf on a create here (CEL optionals are not supported) ${named}`,
    );
    return;
  }
  if (compiled.errors.length > 0) {
    report.problems.push(
      `${where}: Internal error: rule does not compile: ${compiled.errors.join('; ')} ${named}`,
    );
    return;
  }
  const self = celValue(value, schema);
  const result = compiled.evaluate({ self });
  const type = schema.type ?? (schema['x-kubernetes-int-or-string'] ? 'int-or-string' : 'object');
  if (isCelError(result)) {
    report.problems.push(
      `${where}: Invalid value: "${type}": rule could not be evaluated: ${result.message} ${named}`,
    );
    return;
  }
  if (typeof result !== 'boolean') {
    report.problems.push(
      `${where}: Invalid value: "${type}": rule did not evaluate to a bool ${named}`,
    );
    return;
  }
  if (result) return;
  const at = rule.fieldPath ? `${path}${rule.fieldPath}`.replace(/^\./, '') : where;
  report.problems.push(`${failure(rule, at, type, message(rule, schema, self))} ${named}`);
}

/**
 * The failure message: `messageExpression` when it evaluates to a non-blank single-line string,
 * else `message`, else "failed rule: <rule>" (the API server's fallbacks, in its order).
 */
function message(rule: ValidationRule, schema: Schema, self: CelInput): string {
  if (rule.messageExpression) {
    const result = compileRule(rule.messageExpression, schema).evaluate({ self });
    if (typeof result === 'string' && result.trim() !== '' && !/[\r\n]/.test(result)) {
      return result;
    }
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

/** The error as the API server words its `reason`. */
function failure(rule: ValidationRule, at: string, type: string, text: string): string {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return `${at}: Forbidden: ${text}`;
    case 'FieldValueRequired':
      return `${at}: Required value: ${text}`;
    case 'FieldValueDuplicate':
      return `${at}: Duplicate value: "${type}": ${text}`;
    default:
      return `${at}: Invalid value: "${type}": ${text}`;
  }
}
