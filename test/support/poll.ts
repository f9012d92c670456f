/**
 * Waiting for a condition in tests: poll it, never sleep a fixed time and hope. Returns the last
 * value seen, met or not, so the caller's `expect` shows what was seen instead of a bare timeout.
 */
export async function poll<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    value = await probe();
  }
  return value;
}
