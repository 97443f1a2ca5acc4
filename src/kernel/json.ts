/** A parsed JSON object whose fields have not been checked yet: the form request bodies arrive in. */
export type JsonObject = Record<string, unknown>;

export const isJsonObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
