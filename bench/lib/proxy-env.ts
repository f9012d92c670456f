/**
 * What both bare proxies (node-proxy.ts, undici-proxy.ts) read from their environment: where the
 * session manager is and the trusted headers to set, so the two floors differ in their HTTP
 * client only.
 */
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export const upstream = new URL(env('BENCH_UPSTREAM_URL'));

export const trusted = {
  'x-axon-key-id': env('BENCH_KEY_ID'),
  'x-axon-plan': env('BENCH_PLAN'),
  'x-axon-gateway-secret': env('BENCH_GATEWAY_SECRET'),
};
