/**
 * CEL as the API server runs a CRD's `x-kubernetes-validations` rules, on @bufbuild/cel:
 * - the environment: CEL's standard functions and macros, cel-go's strings extension
 *   (`split`, `lowerAscii`, ...) from @bufbuild/cel/ext, Kubernetes' regex library (`find`,
 *   `findAll`, k8s.io/apiserver/pkg/cel/library/regex.go), which @bufbuild/cel lacks, and
 *   cel-go's strict `int(<string>)`;
 * - a compile step that, like the API server's type check against the schema, refuses a
 *   function the environment does not have and a field the schema does not declare, so a rule
 *   this rehearsal cannot run is a failure and never a silent pass;
 * - the conversion of an object to CEL values typed by its schema (integers are `int`, objects
 *   are maps whose property names are escaped as Kubernetes escapes them).
 * Kubernetes' other libraries (lists, quantity, URLs, IP/CIDR, semver, format) are not here: no
 * pinned CRD uses them, and the compile step names the first rule that would.
 */
import {
  type CelFunc,
  type CelInput,
  type CelResult,
  CelScalar,
  celEnv,
  celError,
  celFunc,
  celMethod,
  listType,
  parse,
  plan,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Schema } from './crds/index.ts';

const { INT, STRING } = CelScalar;

/**
 * A pattern for JavaScript's RegExp, refused when it uses syntax RE2 (Go's regexp, which the API
 * server runs) rejects or reads differently, so a rule never passes here on a pattern the
 * cluster would refuse. RE2's `(?i)` prefix becomes the `i` flag; `(?P<name>` is JS `(?<name>`.
 */
export function re2Pattern(pattern: string, flags = 'u'): RegExp {
  if (/\(\?<?[=!]|\\[1-9]|\\k</.test(pattern)) {
    throw new Error(`Illegal regex: ${pattern} (lookaround or backreference, not RE2 syntax)`);
  }
  const insensitive = pattern.startsWith('(?i)');
  const body = (insensitive ? pattern.slice(4) : pattern).replaceAll('(?P<', '(?<');
  try {
    return new RegExp(body, insensitive ? `${flags}i` : flags);
  } catch (error) {
    throw new Error(`Illegal regex: ${(error as Error).message}`);
  }
}

/**
 * Go's `Regexp.FindAllString(s, n)`: leftmost-first matches left to right, an empty match right
 * after the previous match skipped, at most `n` when `n >= 0`.
 */
export function findAll(text: string, pattern: string, n: number): string[] {
  const re = re2Pattern(pattern, 'gu');
  const found: string[] = [];
  const limit = n < 0 ? text.length + 1 : n;
  let pos = 0;
  let previousEnd = -1;
  while (found.length < limit && pos <= text.length) {
    re.lastIndex = pos;
    const match = re.exec(text);
    if (!match) break;
    const start = match.index;
    const end = start + match[0].length;
    const accept = !(end === start && start === previousEnd);
    // After an empty match, move on by one character (a surrogate pair is one character).
    const next = text.codePointAt(end);
    pos = end > start ? end : end + (next === undefined ? 1 : String.fromCodePoint(next).length);
    previousEnd = end;
    if (accept) found.push(match[0]);
  }
  return found;
}

/** Kubernetes' regex library: `<string>.find(<string>)`, `<string>.findAll(<string>[, <int>])`. */
export const REGEX_LIBRARY: readonly CelFunc[] = [
  celMethod('find', STRING, [STRING], STRING, function (pattern) {
    return findAll(this, pattern, 1)[0] ?? '';
  }),
  celMethod('findAll', STRING, [STRING], listType(STRING), function (pattern) {
    return findAll(this, pattern, -1);
  }),
  celMethod('findAll', STRING, [STRING, INT], listType(STRING), function (pattern, n) {
    return findAll(this, pattern, Number(n));
  }),
];

const MAX_INT = 2n ** 63n - 1n;
const MIN_INT = -(2n ** 63n);

/**
 * `int(<string>)` as cel-go parses it (strconv.ParseInt, base 10): a sign and decimal digits
 * within int64. @bufbuild/cel's uses JS BigInt, which also takes '', ' 1' and '0x10'; a
 * Karpenter rule runs `int()` on requirement values, so the difference would pass a bad value.
 */
export const CEL_GO_INT: CelFunc = celFunc('int', [STRING], INT, (text) => {
  const value = /^[+-]?[0-9]+$/.test(text) ? BigInt(text) : undefined;
  if (value === undefined || value > MAX_INT || value < MIN_INT) {
    throw new Error(`cannot convert '${text}' to int`);
  }
  return value;
});

export const KUBERNETES_CEL = celEnv({ funcs: [...strings, ...REGEX_LIBRARY, CEL_GO_INT] });

/** Identifiers CEL resolves to type values (`type(self) == string`). */
const TYPE_IDENTS = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
]);

// --- property name escaping (k8s.io/apiserver/pkg/cel/escaping.go) ---

const RESERVED = new Set(
  'true false null in as break const continue else for function if import let loop package namespace return var void while'.split(
    ' ',
  ),
);
const ESCAPES: Record<string, string> = {
  __: '__underscores__',
  '.': '__dot__',
  '-': '__dash__',
  '/': '__slash__',
};

/** The CEL name of a schema property, or undefined when CEL cannot reach it. */
export function escapeProperty(name: string): string | undefined {
  if (name === '' || /^[0-9]/.test(name)) return undefined;
  if (RESERVED.has(name)) return `__${name}__`;
  if (/[^a-zA-Z0-9_./-]/.test(name)) return undefined;
  return name.replace(/__|[-./]/g, (s) => ESCAPES[s] ?? s);
}

function propertyOf(schema: Schema, celName: string): Schema | undefined {
  for (const [name, property] of Object.entries<Schema>(schema.properties ?? {})) {
    if (escapeProperty(name) === celName) return property;
  }
  return undefined;
}

// --- values ---

/**
 * The CEL value of `value` under `schema`, as the API server builds `self`: `integer` (and an
 * int-or-string number) is `int`, `number` is `double`, an object with properties or with
 * additionalProperties is a map, and a field without a schema keeps its JSON shape with whole
 * numbers as `int`. Strings with `format: date-time` or `duration` stay strings here (the API
 * server makes them timestamps and durations; no pinned rule reads one).
 */
export function celValue(value: unknown, schema: Schema | undefined): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    const integral = schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'];
    if (integral || (schema?.type !== 'number' && Number.isInteger(value))) return BigInt(value);
    return value;
  }
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((item) => celValue(item, schema?.items));
  const entries = Object.entries(value as Record<string, unknown>);
  if (schema?.properties) {
    const map = new Map<string, CelInput>();
    for (const [name, item] of entries) {
      const celName = escapeProperty(name);
      const property = schema.properties[name];
      if (celName !== undefined && property) map.set(celName, celValue(item, property));
    }
    return map;
  }
  const items =
    typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  return new Map(entries.map(([key, item]) => [key, celValue(item, items)]));
}

// --- compile ---

type Expr = ReturnType<typeof parse>['expr'];

/** A rule ready to run, or the reasons it cannot be. */
export interface CompiledRule {
  readonly expression: string;
  /** Why it does not compile; empty when it does. */
  readonly errors: readonly string[];
  /** Whether it reads `oldSelf` (a transition rule, only run on updates). */
  readonly transition: boolean;
  /** Functions and methods it calls, by name (operators left out). */
  readonly functions: ReadonlySet<string>;
  evaluate(bindings: Record<string, CelInput>): CelResult;
}

/** What the checker knows of an expression's value: its schema, or nothing (dyn). */
type Shape = Schema | undefined;

const STRING_SCHEMA: Schema = { type: 'string' };

function isMap(schema: Schema): boolean {
  return schema.type === 'object' && !schema.properties && !!schema.additionalProperties;
}

/**
 * Type checks an expression against the schema `self` has: every identifier is declared, every
 * function exists with that receiver style and arity, and every field selected on an object is a
 * property of its schema. A coarse version of the API server's check (return types of functions
 * are not followed), but it catches what makes a rule unrunnable.
 */
function check(
  expr: Expr,
  scope: ReadonlyMap<string, Shape>,
  errors: string[],
  calls: Set<string>,
): Shape {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr':
      return undefined;
    case 'identExpr': {
      const name = kind.value.name;
      if (scope.has(name)) return scope.get(name);
      if (!TYPE_IDENTS.has(name)) errors.push(`undeclared reference to '${name}'`);
      return undefined;
    }
    case 'selectExpr': {
      const operand = check(kind.value.operand as Expr, scope, errors, calls);
      return selectField(operand, kind.value.field, errors);
    }
    case 'callExpr': {
      const { target, args } = kind.value;
      const name = kind.value.function;
      if (target) check(target as Expr, scope, errors, calls);
      const shapes = args.map((arg) => check(arg as Expr, scope, errors, calls));
      if (name === '_[_]') return indexInto(shapes[0]);
      // Operators (`_==_`, `@in`, `!_`) are the planner's own; named functions must resolve.
      if (/^[A-Za-z]/.test(name)) {
        calls.add(name);
        resolveFunction(name, target !== undefined, args.length, errors);
      }
      return undefined;
    }
    case 'listExpr':
      for (const element of kind.value.elements) check(element as Expr, scope, errors, calls);
      return undefined;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey')
          check(entry.keyKind.value as Expr, scope, errors, calls);
        if (entry.value) check(entry.value as Expr, scope, errors, calls);
      }
      return undefined;
    case 'comprehensionExpr': {
      const c = kind.value;
      const range = check(c.iterRange as Expr, scope, errors, calls);
      const inner = new Map(scope);
      inner.set(c.iterVar, iterationShape(range, errors));
      if (c.iterVar2) inner.set(c.iterVar2, undefined);
      check(c.accuInit as Expr, scope, errors, calls);
      inner.set(c.accuVar, undefined);
      check(c.loopCondition as Expr, inner, errors, calls);
      check(c.loopStep as Expr, inner, errors, calls);
      const outer = new Map(scope);
      outer.set(c.accuVar, undefined);
      check(c.result as Expr, outer, errors, calls);
      return undefined;
    }
    default:
      errors.push(`unsupported expression ${kind.case}`);
      return undefined;
  }
}

function selectField(operand: Shape, field: string, errors: string[]): Shape {
  if (operand === undefined) return undefined;
  if (operand['x-kubernetes-preserve-unknown-fields']) return propertyOf(operand, field);
  if (operand.type !== 'object') {
    errors.push(
      `type '${operand.type ?? 'int-or-string'}' does not support field selection ('${field}')`,
    );
    return undefined;
  }
  if (operand.properties) {
    const property = propertyOf(operand, field);
    if (!property) errors.push(`undefined field '${field}'`);
    return property;
  }
  if (typeof operand.additionalProperties === 'object') return operand.additionalProperties;
  if (operand.additionalProperties === true) return undefined;
  errors.push(`undefined field '${field}' (the schema declares no fields here)`);
  return undefined;
}

function indexInto(operand: Shape): Shape {
  if (operand?.type === 'array') return operand.items;
  if (operand && isMap(operand) && typeof operand.additionalProperties === 'object') {
    return operand.additionalProperties;
  }
  return undefined;
}

function iterationShape(range: Shape, errors: string[]): Shape {
  if (range === undefined) return undefined;
  if (range.type === 'array') return range.items;
  if (isMap(range)) return STRING_SCHEMA;
  errors.push(`cannot iterate over a value of type '${range.type ?? 'int-or-string'}' with fields`);
  return undefined;
}

function resolveFunction(name: string, member: boolean, arity: number, errors: string[]): void {
  const group = KUBERNETES_CEL.funcs.find(name);
  if (!group) {
    errors.push(`undeclared reference to '${name}'`);
    return;
  }
  const fits = [...group].some(
    (f) => (f.target !== undefined) === member && f.arguments.length === arity,
  );
  if (!fits) {
    errors.push(
      `found no matching overload for '${name}' (${member ? 'method' : 'function'} with ${arity} argument(s))`,
    );
  }
}

function readsOldSelf(expr: Expr): boolean {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr':
      return kind.value.name === 'oldSelf';
    case 'selectExpr':
      return readsOldSelf(kind.value.operand as Expr);
    case 'callExpr':
      return [kind.value.target, ...kind.value.args].some((e) => e && readsOldSelf(e as Expr));
    case 'listExpr':
      return kind.value.elements.some((e) => readsOldSelf(e as Expr));
    case 'structExpr':
      return kind.value.entries.some((e) => !!e.value && readsOldSelf(e.value as Expr));
    case 'comprehensionExpr': {
      const c = kind.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].some(
        (e) => e && readsOldSelf(e as Expr),
      );
    }
    default:
      return false;
  }
}

const compiled = new WeakMap<Schema, Map<string, CompiledRule>>();

/**
 * Compiles `expression` for a value of `schema` (the node the rule sits on); `self` and
 * `oldSelf` have that schema. Cached per schema node and expression.
 */
export function compileRule(expression: string, schema: Schema): CompiledRule {
  const cache = compiled.get(schema) ?? new Map<string, CompiledRule>();
  compiled.set(schema, cache);
  const cached = cache.get(expression);
  if (cached) return cached;
  const errors: string[] = [];
  const functions = new Set<string>();
  let parsed: ReturnType<typeof parse> | undefined;
  try {
    parsed = parse(expression);
  } catch (error) {
    errors.push(`syntax error: ${(error as Error).message}`);
  }
  if (parsed) {
    const scope = new Map<string, Shape>([
      ['self', schema],
      ['oldSelf', schema],
    ]);
    check(parsed.expr, scope, errors, functions);
  }
  const program = parsed && errors.length === 0 ? plan(KUBERNETES_CEL, parsed) : undefined;
  const rule: CompiledRule = {
    expression,
    errors,
    functions,
    transition: parsed ? readsOldSelf(parsed.expr) : false,
    evaluate: (bindings) =>
      program ? program(bindings) : celError(`does not compile: ${errors.join('; ')}`),
  };
  cache.set(expression, rule);
  return rule;
}
