import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An RFC 3339 instant: calendar date, time and an explicit UTC offset. The offset may be
 * written `Z`, `±HH`, `±HHMM` or `±HH:MM` (all ISO 8601), seconds and a fraction are optional.
 * Other ISO 8601 forms (week dates `2030-W01-1`, ordinal dates, the basic format `20300101`,
 * a date without a time, a time without an offset) name no single instant or are not worth
 * the ambiguity, so they are refused rather than guessed.
 */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Epoch milliseconds of an instant written as above, or undefined when the text is not one
 * (including impossible dates such as February 30th or hour 25). The one parser behind both
 * the validation of `runAt` and the delay computed from it, so what passes is what is used.
 */
export function parseInstant(text: string): number | undefined {
  const match = INSTANT.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s = '0', fraction = '', zulu, sign, offsetH = '0', offsetM = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  const [offsetHours, offsetMinutes] = [Number(offsetH), Number(offsetM)];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const offset = zulu ? 0 : (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return local - offset;
}

/** class-validator rule: a string `parseInstant` reads. */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value) => typeof value === 'string' && parseInstant(value) !== undefined,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be an RFC 3339 date-time with a UTC offset, e.g. 2030-01-01T10:00:00Z or 2030-01-01T10:00+02:00`,
      },
    },
    options,
  );
}
