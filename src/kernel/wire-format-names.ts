/**
 * The wire formats an upstream may speak (`format:` in MODELS_FILE). Each name has a folder
 * `wire/<name>/` exporting its `WireFormat`, listed in `WIRE_FORMATS` (wire-formats.ts), which
 * the compiler holds to this list.
 */
export const WIRE_FORMAT_NAMES = ['openai', 'anthropic'] as const;

export type WireFormatName = (typeof WIRE_FORMAT_NAMES)[number];

export function isWireFormatName(value: unknown): value is WireFormatName {
  return (WIRE_FORMAT_NAMES as readonly unknown[]).includes(value);
}
