/**
 * Who to blame for failed authentications. Behind the ALB the client address is the LAST entry
 * of `X-Forwarded-For`: the ALB appends the peer it saw, while every earlier entry is whatever
 * the client chose to send.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The last address of `X-Forwarded-For` (one header or several), or `undefined`. */
export function clientAddress(
  forwardedFor: string | readonly string[] | undefined,
): string | undefined {
  if (forwardedFor === undefined) return undefined;
  const values = typeof forwardedFor === 'string' ? [forwardedFor] : forwardedFor;
  const last = values.at(-1)?.split(',').at(-1)?.trim();
  return last ? last : undefined;
}

/**
 * The failed-auth limiter's identity for an address. IPv6 clients are grouped by /64, since one
 * host commonly owns a whole /64 and could otherwise rotate addresses to dodge the limit.
 * Anything that is not an IP address (no address, a forged or garbled header in front of a
 * non-ALB proxy) shares one bucket, which limits it without growing Redis keys per value.
 */
export function failureIdentity(address: string | undefined): string {
  if (address !== undefined) {
    const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
    if (isIPv4(mapped)) return `auth:${mapped}`;
    if (isIPv6(address)) return `auth:${ipv6Prefix64(address)}`;
  }
  return 'auth:unknown';
}

/** The first four groups of an IPv6 address, expanded, as `a:b:c:d::/64`. */
function ipv6Prefix64(address: string): string {
  const withoutZone = address.split('%')[0] ?? address;
  const [head = '', tail] = withoutZone.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...tailGroups];
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
