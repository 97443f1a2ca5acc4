import { isIPv6 } from 'node:net';

/**
 * The key under which per-address limits count a client: the IPv4 address as is, an IPv6
 * address by its /64 prefix (one subscriber usually holds a whole /64, so counting single
 * IPv6 addresses would let one client rotate through 2^64 of them). IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function addressKey(ip: string): string {
  if (!isIPv6(ip)) {
    return ip;
  }
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) {
    return mapped[1];
  }
  const [head, tail = ''] = lower.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = lower.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
