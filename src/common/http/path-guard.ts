/**
 * True when a raw request path holds a `..` segment, raw or percent-encoded (`%2e%2e`,
 * `.%2E`, double encoding), which must never reach routing or an upstream URL.
 */
export function hasDotDotSegment(rawUrl: string): boolean {
  const query = rawUrl.indexOf('?');
  const path = query === -1 ? rawUrl : rawUrl.slice(0, query);
  if (!path.includes('%')) {
    // Nothing encoded (every /v1 request): what is there is all there is.
    return path.includes('..');
  }
  let decoded = path;
  for (let i = 0; i < 3; i++) {
    if (decoded.includes('..')) {
      return true;
    }
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return /%2e/i.test(decoded);
    }
    if (next === decoded) {
      return false;
    }
    decoded = next;
  }
  return decoded.includes('..');
}
