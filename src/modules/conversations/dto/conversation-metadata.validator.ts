import { registerDecorator, ValidationOptions } from 'class-validator';
import { ownEntries } from 'src/common/validation/prototype-member-keys';
import { unstorableTextProblem } from 'src/common/validation/storable-text';

export const METADATA_MAX_KEYS = 16;
export const METADATA_MAX_KEY_LENGTH = 64;
export const METADATA_MAX_VALUE_LENGTH = 512;

/** Why `value` is not valid conversation metadata, or null when it is. */
export function metadataProblem(value: unknown): string | null {
  if (value === null) {
    return null;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return 'metadata must be an object of strings or null';
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > METADATA_MAX_KEYS) {
    return `metadata must have at most ${METADATA_MAX_KEYS} keys`;
  }
  for (const [key, v] of entries) {
    if (key.length === 0 || key.length > METADATA_MAX_KEY_LENGTH) {
      return `metadata keys must be 1-${METADATA_MAX_KEY_LENGTH} characters`;
    }
    if (typeof v !== 'string' || v.length > METADATA_MAX_VALUE_LENGTH) {
      return `metadata values must be strings of at most ${METADATA_MAX_VALUE_LENGTH} characters`;
    }
    const problem = unstorableTextProblem(key) ?? unstorableTextProblem(v);
    if (problem) {
      return `metadata keys and values ${problem}`;
    }
  }
  return null;
}

/**
 * The client's metadata object with every key it sent, in an object without a prototype:
 * keys such as `constructor` or `toString` are data like any other (issue #22 item 9). Anything
 * that is not a plain object is left for the validator to refuse.
 */
export function ownMetadata(value: unknown): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? ownEntries(value)
    : value;
}

/**
 * Conversation metadata as OpenAI shapes it: up to 16 string values with keys of at most 64
 * characters and values of at most 512; `null` clears it.
 */
export function IsConversationMetadata(options?: ValidationOptions) {
  return (target: object, propertyName: string) => {
    registerDecorator({
      name: 'isConversationMetadata',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => metadataProblem(value) === null,
        defaultMessage: (args) => metadataProblem(args?.value) ?? 'metadata is invalid',
      },
    });
  };
}
