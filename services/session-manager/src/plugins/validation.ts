/**
 * Turns schema validation errors (TypeBox's, Ajv-shaped) into one 400 that names the field in
 * the caller's terms (`messages[0].role`), with an OpenAI-style code.
 */
import { InvalidRequestError } from '@axon/runtime/errors';

export interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/messages/0/role` -> `messages[0].role` */
export function fieldName(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce(
      (out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part),
      '',
    );
}

function join(base: string, child: string): string {
  return base ? `${base}.${child}` : child;
}

const COMBINATORS = new Set(['anyOf', 'oneOf', 'allOf', 'boolean']);

export function validationError(
  errors: readonly SchemaError[],
  context: string,
): InvalidRequestError {
  const where = (pointer: string) => fieldName(pointer) || (context === 'body' ? 'body' : context);

  const extra = errors.find((e) => e.keyword === 'additionalProperties');
  if (extra) {
    const names = (extra.params?.additionalProperties as string[] | undefined) ?? [];
    const field = join(fieldName(extra.instancePath), String(names[0] ?? ''));
    return new InvalidRequestError(
      'unknown_parameter',
      `${field || where('')}: unknown field; remove it.`,
    );
  }
  const badKeys = errors.find((e) => e.keyword === 'propertyNames');
  if (badKeys) {
    return new InvalidRequestError(
      'invalid_value',
      `${where(badKeys.instancePath)}: ${badKeys.message ?? 'invalid keys'} (keys are 1 to 64 characters).`,
    );
  }
  // Of a union's alternatives, the deepest complaint is usually the one that helps.
  const candidates = errors.filter((e) => !COMBINATORS.has(e.keyword));
  const first = [...(candidates.length ? candidates : errors)].sort(
    (a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length,
  )[0];
  if (!first) return new InvalidRequestError('invalid_value', `${context}: invalid value.`);

  if (first.keyword === 'required') {
    const missing =
      (first.params?.requiredProperties as string[] | undefined)?.[0] ??
      (first.params?.missingProperty as string | undefined) ??
      '';
    return new InvalidRequestError(
      'missing_required_parameter',
      `${join(fieldName(first.instancePath), missing) || where('')}: this field is required.`,
    );
  }
  if (first.keyword === 'enum') {
    const allowed = (first.params?.allowedValues as unknown[] | undefined) ?? [];
    return new InvalidRequestError(
      'invalid_value',
      `${where(first.instancePath)}: must be one of ${allowed.map((v) => `'${v}'`).join(', ')}.`,
    );
  }
  if (first.keyword === 'const') {
    return new InvalidRequestError(
      'invalid_value',
      `${where(first.instancePath)}: must be '${String(first.params?.allowedValue)}'.`,
    );
  }
  const code = first.keyword === 'type' ? 'invalid_type' : 'invalid_value';
  return new InvalidRequestError(
    code,
    `${where(first.instancePath)}: ${first.message ?? 'invalid value'}.`,
  );
}
