/**
 * Nest's ValidationPipe deletes every `constructor` and `prototype` key from its input before
 * class-transformer sees it (prototype-pollution guard), and class-transformer itself skips
 * keys that name inherited members. Free-form maps (conversation metadata) then lost such keys
 * while the request answered 200 (issue #22 item 9). String values under those names cannot
 * pollute anything (pollution needs an object to walk into; the body parser already refuses
 * `__proto__` and `constructor.prototype`), so the pipe sets them aside here before Nest deletes
 * them, and a map field reads its entries back with `ownEntries`.
 */
const setAside = new WeakMap<object, [string, string][]>();

const STRIPPED_KEYS = ['constructor', 'prototype'] as const;

/** Far beyond what `assertJsonDepth` lets a body reach; stops a walk of a pathological value. */
const MAX_WALK_DEPTH = 256;

/** Remembers the string-valued `constructor`/`prototype` keys anywhere in `value`. */
export function setAsidePrototypeMemberKeys(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) {
    return;
  }
  if (depth > MAX_WALK_DEPTH) {
    return;
  }
  const record = value as Record<string, unknown>;
  const kept: [string, string][] = [];
  for (const key of STRIPPED_KEYS) {
    const member = Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
    if (typeof member === 'string') {
      kept.push([key, member]);
    }
  }
  if (kept.length > 0) {
    setAside.set(record, kept);
  }
  for (const child of Object.values(record)) {
    setAsidePrototypeMemberKeys(child, depth + 1);
  }
}

/**
 * The object's entries as the client sent them, in an object without a prototype (so no key
 * is special): its own entries plus the ones the validation pipe set aside.
 */
export function ownEntries(value: object): Record<string, unknown> {
  const copy = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of Object.entries(value)) {
    copy[key] = v;
  }
  for (const [key, v] of setAside.get(value) ?? []) {
    copy[key] = v;
  }
  return copy;
}
