/**
 * The rules of compileDateFormat (date-formats.ts) as JSON Schema, so a standard validator
 * accepts a date format exactly when the API does. Every token is a run of one letter, and
 * the tokenizer takes the longest token first, so what a run means depends on its length
 * alone: a run of Y makes one year token for 2–5 letters, M one month for 1–4, D one day for
 * 1–2, H or h one hour for 1–2, m and s one token for 2–3 (a lone m/s is literal), S one
 * fraction for 3–5. Each pattern states one rule over those runs; brackets nest at most
 * `maxGroups` deep, as there are at most that many groups.
 */

const ANY = '[\\s\\S]';

/** A `[...]` group (nested ones allowed) whose other characters match `char`. */
function group(char: string, depth: number): string {
  const inner = depth === 1 ? char : `${char}|${group(char, depth - 1)}`;
  return `\\[(?:${inner})*\\]`;
}

/** A `[...]` group with something in it, at every depth. */
function nonEmptyGroup(depth: number): string {
  const inner = depth === 1 ? '[^\\[\\]]' : `[^\\[\\]]|${nonEmptyGroup(depth - 1)}`;
  return `\\[(?:${inner})+\\]`;
}

/** Exactly one token of `letter` (a run of `min`–`max` letters), outside any group; no other run of it that makes a token. */
function exactlyOnceOutside(maxGroups: number, letter: string, lone: boolean, max: number, min = 1): string {
  // A lone letter is literal for Y (YY is the shortest year token), a token for M and D.
  const other = lone ? `(?:[^${letter}\\[\\]]|${letter}(?!${letter}))` : `[^${letter}\\[\\]]`;
  const item = `(?:${other}|${group(other, maxGroups)})`;
  return `^${item}*${letter}{${min},${max}}(?!${letter})${item}*$`;
}

/** At most one token of `letter` anywhere: runs shorter than `min` are literal, one run of `min`–`max` is the token. */
function atMostOnce(letter: string, min: number, max: number): string {
  const literal = min === 1 ? `[^${letter}]` : `(?:[^${letter}]|${letter}{1,${min - 1}}(?!${letter}))`;
  return `^${literal}*(?:${letter}{${min},${max}}(?!${letter})${literal}*)?$`;
}

/** The patterns a date format must all match, with at most `maxGroups` "[...]" groups. */
export function dateFormatPatterns(maxGroups: number): string[] {
  return [
    // Brackets pair up, no group is empty, no more than maxGroups groups.
    `^(?:[^\\[\\]]|${nonEmptyGroup(maxGroups)})*$`,
    `^[^\\[]*(?:\\[[^\\[]*){0,${maxGroups}}$`,
    // A year, a month and a day, each exactly once and outside "[...]".
    exactlyOnceOutside(maxGroups, 'Y', true, 5, 2),
    exactlyOnceOutside(maxGroups, 'M', false, 4),
    exactlyOnceOutside(maxGroups, 'D', false, 2),
    // No time token twice, one hour at most.
    atMostOnce('m', 2, 3),
    atMostOnce('s', 2, 3),
    atMostOnce('S', 3, 5),
    atMostOnce('A', 1, 1),
    atMostOnce('Z', 1, 1),
    '^[^Hh]*(?:(?:HH?|hh?)(?![Hh])[^Hh]*)?$',
    // hh/h and A together or not at all; time parts only with an hour.
    `^(?:(?=${ANY}*h)(?=${ANY}*A)|(?!${ANY}*[hA]))`,
    `^(?:(?=${ANY}*[Hh])|(?!${ANY}*(?:mm|ss|SSS|[AZ])))`,
  ];
}

/** The schema of one entry of a column's `formats`. */
export function dateFormatSchema(maxGroups: number): Record<string, unknown> {
  return {
    type: 'string',
    minLength: 1,
    maxLength: 64,
    allOf: dateFormatPatterns(maxGroups).map((pattern) => ({ pattern })),
    description: 'A date format: tokens YYYY YY MMMM MMM MM M DD D HH H hh h mm ss SSS A Z, `[...]` optional; a year, a month and a day once each',
  };
}
