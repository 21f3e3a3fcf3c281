import Ajv from 'ajv';
import fc from 'fast-check';
import { compileDateFormat, DEFAULT_DATE_FORMATS, DEFAULT_DATETIME_FORMATS } from './date-formats';
import { dateFormatSchema } from './date-format.schema';

const MAX_GROUPS = 6;

/** The API's verdict: the format compiles and has at most MAX_GROUPS optional groups. */
function apiAccepts(format: string): boolean {
  try {
    return compileDateFormat(format).optionalGroups <= MAX_GROUPS;
  } catch {
    return false;
  }
}

describe('date format schema', () => {
  const validate = new Ajv({ strict: true }).compile(dateFormatSchema(MAX_GROUPS));

  it('accepts the default formats and refuses what compileDateFormat refuses, on examples', () => {
    for (const format of [...DEFAULT_DATE_FORMATS, ...DEFAULT_DATETIME_FORMATS, 'DD.MM.YY', 'MMMM D, YYYY h:mm A', 'YYYY-M-D[[[[[[:]]]]]]']) {
      expect({ format, ok: validate(format) }).toEqual({ format, ok: true });
    }
    for (const format of [
      '',
      'YYYY-MM',
      'YYYY-MM-DD-DD',
      'YYYYYY-M-D',
      '[YYYY]-M-D',
      'YYYY-M-D HH:mm:mm',
      'YYYY-M-D h:mm',
      'YYYY-M-D A',
      'YYYY-M-D mm',
      'YYYY-M-D[]',
      'YYYY-M-D]',
      'YYYY-M-D[',
      'Y'.repeat(65),
    ]) {
      expect({ format, ok: validate(format) }).toEqual({ format, ok: false });
    }
  });

  it('agrees with compileDateFormat on generated formats', () => {
    // Runs of token letters, brackets and a few literals: where the rules are decided.
    const piece = fc.oneof(
      fc.constantFrom('Y', 'M', 'D', 'H', 'h', 'm', 's', 'S', 'A', 'Z').chain((letter) => fc.integer({ min: 1, max: 6 }).map((n) => letter.repeat(n))),
      fc.constantFrom('[', ']', '-', ':', ' ', '.', 'T', 'y'),
    );
    const format = fc.array(piece, { maxLength: 16 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(format, (text) => validate(text) === apiAccepts(text)),
      { numRuns: 20_000 },
    );
  });

  // Random formats are nearly all invalid: these sit on the edge, about half valid.
  it('agrees on formats built valid, then mutated by one character', () => {
    const valid = fc
      .tuple(
        fc.constantFrom('YYYY', 'YY'),
        fc.constantFrom('MMMM', 'MMM', 'MM', 'M'),
        fc.constantFrom('DD', 'D'),
        fc.constantFrom('', ' HH:mm', ' h:mm A', '[ H[:mm[:ss[.SSS]]]][Z]', 'THH:mm:ssZ'),
      )
      .map(([y, m, d, time]) => `${y}-${m}-${d}${time}`);
    const mutated = fc
      .tuple(valid, fc.nat(), fc.constantFrom('', 'Y', 'M', 'D', 'H', 'h', 'm', 's', 'S', 'A', 'Z', '[', ']', 'x'))
      .map(([text, at, insert]) => {
        const position = at % (text.length + 1);
        return text.slice(0, position) + insert + text.slice(position);
      });
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (text) => {
        const api = apiAccepts(text);
        if (api) accepted++;
        return validate(text) === api;
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(2_000);
  });
});
