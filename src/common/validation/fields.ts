import { applyDecorators } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { ValidateBy, ValidateIf, ValidateNested, ValidationArguments } from 'class-validator';
import { unstorableTextProblem } from 'src/common/validation/storable-text';

/**
 * Composed field decorators with the exact messages of the contract (`name is required`,
 * `name must be at most 120 characters`, …). Each field gets at most one failing constraint
 * per value, and each constraint names the catalog code it reports through its `context`
 * (read by `validationExceptionFactory`): `missing_field` for an absent required field,
 * `invalid_field` for everything else, including an explicit `null` where none is allowed.
 *
 * Messages name the field by its wire name, or by `label` (`rate_limit.per_second`) for nested
 * DTOs whose property name alone would be ambiguous.
 */
export interface FieldOptions {
  /** Absent (or null) → `<field> is required` (missing_field). */
  required?: boolean;
  /** null is a valid value (it usually means "reset" or "no limit"). */
  nullable?: boolean;
  /** The name used in messages; default: the property name. */
  label?: string;
}

const MISSING = { context: { code: 'missing_field' } };
const INVALID = { context: { code: 'invalid_field' } };

/** Returns the failure message with `{field}` for the field's name, or null when valid. */
type Check = (value: unknown) => string | null;

function field(name: string, options: FieldOptions, check: Check): PropertyDecorator {
  const label = (args: ValidationArguments) => options.label ?? args.property;
  // undefined is never checked (absent, or reported by `required`); null is checked unless
  // the field is nullable or required (then `required` reports it).
  const skip = (value: unknown) =>
    value === undefined || (value === null && (options.nullable || options.required));
  const decorators: PropertyDecorator[] = [];
  if (options.required) {
    decorators.push(Required(options.label));
  }
  decorators.push(
    ValidateBy(
      {
        name,
        validator: {
          validate: (value: unknown) => skip(value) || check(value) === null,
          defaultMessage: (args?: ValidationArguments) =>
            args ? (check(args.value) ?? '').replaceAll('{field}', label(args)) : name,
        },
      },
      INVALID,
    ),
  );
  return applyDecorators(...decorators);
}

/** `<field> is required` when the value is absent or null (missing_field). */
export function Required(label?: string): PropertyDecorator {
  return ValidateBy(
    {
      name: 'parleyRequired',
      validator: {
        validate: (value: unknown) => value !== undefined && value !== null,
        defaultMessage: (args?: ValidationArguments) => `${label ?? args?.property} is required`,
      },
    },
    MISSING,
  );
}

export interface StringFieldOptions extends FieldOptions {
  maxLength: number;
  /** Default 1: an empty or blank string → `<field> must not be empty`. */
  minLength?: number;
  /** Rules on the characters, each with its message (`{field}` is replaced), checked in order. */
  pattern?: { regex: RegExp; message: string } | { regex: RegExp; message: string }[];
  /** One message for "not a string" and "empty" (`key must be a non-empty string`). */
  typeMessage?: string;
}

/**
 * A string: `<field> must be a string`, `<field> must not be empty` (blank counts as empty),
 * `<field> must be at least N characters`, `<field> must be at most N characters`, then the
 * pattern's message. Lengths count Unicode code points.
 */
export function StringField(options: StringFieldOptions): PropertyDecorator {
  const minLength = options.minLength ?? 1;
  return field('parleyString', options, (value) => {
    if (typeof value !== 'string') {
      return options.typeMessage ?? '{field} must be a string';
    }
    // A string of more than 2 × maxLength UTF-16 units is too long whatever its code points:
    // spreading a 20 MB string into code points would hold the event loop.
    if (value.length > options.maxLength * 2) {
      return `{field} must be at most ${options.maxLength} characters`;
    }
    if (value.trim() === '') {
      return options.typeMessage ?? '{field} must not be empty';
    }
    const length = [...value].length;
    if (length < minLength) {
      return `{field} must be at least ${minLength} characters`;
    }
    if (length > options.maxLength) {
      return `{field} must be at most ${options.maxLength} characters`;
    }
    for (const rule of [options.pattern ?? []].flat()) {
      if (!rule.regex.test(value)) {
        return rule.message;
      }
    }
    const problem = unstorableTextProblem(value);
    return problem ? `{field} ${problem}` : null;
  });
}

/**
 * Text the database can store as sent (no NUL, no unpaired surrogate; see storable-text.ts),
 * for string fields validated by other decorators. Anything but a string passes.
 */
export function StorableText(options: FieldOptions = {}): PropertyDecorator {
  return field('parleyStorableText', options, (value) => {
    const problem = typeof value === 'string' ? unstorableTextProblem(value) : null;
    return problem ? `{field} ${problem}` : null;
  });
}

/** `<field> must be a boolean`. */
export function BooleanField(options: FieldOptions = {}): PropertyDecorator {
  return field('parleyBoolean', options, (value) =>
    typeof value === 'boolean' ? null : '{field} must be a boolean',
  );
}

/** `<field> must be one of: a, b`. */
export function EnumField(
  values: readonly string[],
  options: FieldOptions = {},
): PropertyDecorator {
  return field('parleyEnum', options, (value) =>
    typeof value === 'string' && values.includes(value)
      ? null
      : `{field} must be one of: ${values.join(', ')}`,
  );
}

export interface NumberFieldOptions extends FieldOptions {
  min: number;
  max: number;
  integer?: boolean;
}

/** `<field> must be an integer between MIN and MAX` (or `a number …`). */
export function NumberField(options: NumberFieldOptions): PropertyDecorator {
  const what = options.integer ? 'an integer' : 'a number';
  return field('parleyNumber', options, (value) =>
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!options.integer || Number.isInteger(value)) &&
    value >= options.min &&
    value <= options.max
      ? null
      : `{field} must be ${what} between ${options.min} and ${options.max}`,
  );
}

/**
 * An integer in a query string (`?limit=20`): digits are converted, anything else (`abc`,
 * `1.5`, a repeated parameter) is kept as is and refused by the range check's message.
 */
export function QueryIntegerField(options: NumberFieldOptions): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value,
    ),
    NumberField({ ...options, integer: true }),
  );
}

export interface StringArrayFieldOptions extends FieldOptions {
  maxItems: number;
  maxItemLength: number;
  /** What the items are, for the message: `an array of model aliases`. */
  noun: string;
  /** Message for `[]`; without it an empty array is valid. */
  emptyMessage?: string;
}

/**
 * An array of non-blank strings: `<field> must be <noun>` (not an array, or an item that is not
 * a non-blank string), the empty message, `<field> must have at most N entries`,
 * `<field> entries must be at most N characters`.
 */
export function StringArrayField(options: StringArrayFieldOptions): PropertyDecorator {
  return field('parleyStringArray', options, (value) => {
    const nullHint = options.nullable ? ', or null' : '';
    if (
      !Array.isArray(value) ||
      !value.every((item) => typeof item === 'string' && item.trim() !== '')
    ) {
      return `{field} must be ${options.noun}${nullHint}`;
    }
    if (value.length === 0 && options.emptyMessage) {
      return options.emptyMessage;
    }
    if (value.length > options.maxItems) {
      return `{field} must have at most ${options.maxItems} entries`;
    }
    if ((value as string[]).some((item) => [...item].length > options.maxItemLength)) {
      return `{field} entries must be at most ${options.maxItemLength} characters`;
    }
    return null;
  });
}

/**
 * A nested object validated by its own DTO class (errors then name the nested path,
 * `rate_limit.burst`): `<field> must be an object` (`… or null` when nullable) otherwise.
 */
export function ObjectField(
  type: () => Function,
  options: Omit<FieldOptions, 'required'> = {},
): PropertyDecorator {
  const isObject = (value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  return applyDecorators(
    field('parleyObject', options, (value) =>
      isObject(value) ? null : `{field} must be an object${options.nullable ? ' or null' : ''}`,
    ),
    // The nested DTO runs only on objects: a string or an array gets the message above alone.
    ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null),
    ValidateNested(),
    Type(type),
  );
}

/** Refuses the field when present: `<field> cannot be changed` plus a hint. */
export function ImmutableField(hint: string): PropertyDecorator {
  return ValidateBy(
    {
      name: 'parleyImmutable',
      validator: {
        validate: (value: unknown) => value === undefined,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} cannot be changed: ${hint}`,
      },
    },
    INVALID,
  );
}
