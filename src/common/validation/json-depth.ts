import { ApiError } from 'src/common/errors/api-error';

/**
 * Deepest nesting accepted in a request body. JSON.parse copes with any depth, but
 * JSON.stringify (forwarding, storing) overflows the stack somewhere below 10,000 levels, and
 * no real request (tool schemas included) comes near 100.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Throws 400 `invalid_field` when `value` nests objects/arrays deeper than `maxDepth`.
 * Iterative (an explicit stack), so a 10,000-deep body cannot overflow the call stack. `param`
 * names the first two path segments under which the nesting is (`tools[0]`, `extra.a`), not
 * the whole path: that could be thousands of characters long.
 */
export function assertJsonDepth(value: unknown, maxDepth = MAX_JSON_DEPTH): void {
  if (typeof value !== 'object' || value === null) {
    return;
  }
  const stack: { node: object; depth: number; path: string }[] = [
    { node: value, depth: 1, path: '' },
  ];
  while (stack.length > 0) {
    const { node, depth, path } = stack.pop()!;
    if (depth > maxDepth) {
      throw new ApiError(
        'invalid_field',
        `${path || 'The body'} is nested deeper than ${maxDepth} levels`,
        { param: path || null },
      );
    }
    const isArray = Array.isArray(node);
    const keys = isArray ? null : Object.keys(node);
    const length = isArray ? node.length : keys!.length;
    for (let i = 0; i < length; i++) {
      const key = isArray ? i : keys![i];
      const child: unknown = (node as Record<string | number, unknown>)[key];
      if (typeof child !== 'object' || child === null) {
        continue;
      }
      const childPath = depth <= 2 ? joinSegment(path, key) : path;
      stack.push({ node: child, depth: depth + 1, path: childPath });
    }
  }
}

function joinSegment(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}
