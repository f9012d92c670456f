/**
 * Alarm thresholds are flat optional props, each with its default, and each must be a whole
 * number from 1 up to a ceiling that depends on what it counts (percent, minutes, counts). One
 * function resolves and checks them, so a construct states only its defaults and ceilings, and a
 * bad value stops synth with a message that names the prop.
 */

/**
 * Each key of `defaults`, taken from `props` when set there, else its default; throws
 * `<what> <name> must be a whole number from 1 to <ceiling>, got <value>` for the first value
 * (in the order of `defaults`) that is not. `ceilingOf` answers `undefined` for no ceiling,
 * written "any" in the message.
 */
export function resolveThresholds<K extends string>(
  what: string,
  props: NoInfer<{ readonly [P in K]?: number }>,
  defaults: Readonly<Record<K, number>>,
  ceilingOf: (name: K) => number | undefined,
): Record<K, number> {
  const resolved = {} as Record<K, number>;
  for (const name of Object.keys(defaults) as K[]) {
    const value = props[name] ?? defaults[name];
    const ceiling = ceilingOf(name);
    if (!Number.isInteger(value) || value < 1 || value > (ceiling ?? Number.MAX_SAFE_INTEGER)) {
      throw new Error(
        `${what} ${name} must be a whole number from 1 to ${ceiling ?? 'any'}, got ${value}`,
      );
    }
    resolved[name] = value;
  }
  return resolved;
}
