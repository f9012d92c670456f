/**
 * Small field readers for the stage config. Each one names the field and says how to fix it,
 * because the person reading the message is an operator running `cdk synth`, not the author.
 */

export class StageConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageConfigError';
  }
}

export type Doc = Record<string, unknown>;

export function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field reader bound to one object of the document and its dotted path. */
export class Fields {
  constructor(
    readonly doc: Doc,
    readonly path: string,
    private readonly source: string,
  ) {}

  fail(field: string, problem: string): never {
    throw new StageConfigError(`${this.source}: ${this.at(field)} ${problem}`);
  }

  at(field: string): string {
    return this.path ? `${this.path}.${field}` : field;
  }

  /** Rejects fields this object does not know, so a typo never silently falls back to a default. */
  only(known: readonly string[]): this {
    for (const field of Object.keys(this.doc)) {
      if (!known.includes(field)) {
        this.fail(field, `is not a known field; use one of: ${known.join(', ')}`);
      }
    }
    return this;
  }

  has(field: string): boolean {
    return this.doc[field] !== undefined;
  }

  object(field: string, required = false): Fields {
    const value = this.doc[field];
    if (value === undefined && !required) return new Fields({}, this.at(field), this.source);
    if (!isDoc(value)) this.fail(field, 'must be an object');
    return new Fields(value, this.at(field), this.source);
  }

  string(field: string, fallback?: string): string {
    const value = this.doc[field] ?? fallback;
    if (typeof value !== 'string' || value.length === 0) {
      this.fail(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  optionalString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined;
  }

  /** A string that must match `pattern`; `hint` is the fix shown to the operator. */
  matching(field: string, pattern: RegExp, hint: string, fallback?: string): string {
    const value = this.string(field, fallback);
    if (!pattern.test(value)) this.fail(field, `${hint}, got ${JSON.stringify(value)}`);
    return value;
  }

  optionalMatching(field: string, pattern: RegExp, hint: string): string | undefined {
    return this.has(field) ? this.matching(field, pattern, hint) : undefined;
  }

  oneOf<T extends string>(field: string, choices: readonly T[], fallback: T): T {
    const value = this.doc[field] ?? fallback;
    if (!choices.includes(value as T)) {
      this.fail(
        field,
        `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    return value as T;
  }

  integer(field: string, min: number, max: number, fallback?: number): number {
    const value = this.doc[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(
        field,
        `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
    return value;
  }

  /**
   * A workload's `minReplicas` (`lowest`, by default 1, to 100) and `maxReplicas` (1 to
   * `maxCeiling`, by default the larger of `minReplicas` and `defaults.max`), refused when max is
   * below min: every scaled workload of a stage states its range this way, with the same messages.
   */
  replicas(
    defaults: { readonly min: number; readonly max: number },
    maxCeiling: number,
    lowest = 1,
  ): { minReplicas: number; maxReplicas: number } {
    const minReplicas = this.integer('minReplicas', lowest, 100, defaults.min);
    const maxReplicas = this.integer(
      'maxReplicas',
      1,
      maxCeiling,
      Math.max(minReplicas, defaults.max),
    );
    if (maxReplicas < minReplicas) {
      this.fail('maxReplicas', `must be >= minReplicas, got ${maxReplicas} < ${minReplicas}`);
    }
    return { minReplicas, maxReplicas };
  }

  /** A finite number (fractions allowed) within [min, max]. */
  number(field: string, min: number, max: number, fallback?: number): number {
    const value = this.doc[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(field, `must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** The objects of a list field, each with its own path (`models[0]`). */
  objects(field: string): Fields[] {
    const value = this.doc[field];
    if (!Array.isArray(value) || value.length === 0) {
      this.fail(field, `must be a non-empty list of objects, got ${JSON.stringify(value)}`);
    }
    return value.map((item, index) => {
      if (!isDoc(item)) this.fail(`${field}[${index}]`, 'must be an object');
      return new Fields(item, `${this.at(field)}[${index}]`, this.source);
    });
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.doc[field] ?? fallback;
    if (typeof value !== 'boolean')
      this.fail(field, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  strings(field: string, fallback?: readonly string[]): string[] {
    const value = this.doc[field] ?? fallback;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
      this.fail(field, `must be a list of strings, got ${JSON.stringify(value)}`);
    }
    return [...(value as string[])];
  }
}
