/**
 * An escape JSON.stringify writes for text that no SQL JSON column accepts: an unpaired UTF-16
 * surrogate (`\udXXX`; paired ones come out as the characters themselves) or NUL (`\u0000`,
 * refused by PostgreSQL jsonb). Only a backslash that is not itself escaped starts one.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:d[89a-f][0-9a-f]{2}|0000)/gi;

/**
 * JSON text for a ledger JSON column: JSON.stringify, with every unstorable escape replaced by
 * U+FFFD (as text columns do with such input). Results, errors and progress come from task
 * handlers and may carry whatever the processed data held; one value the database refuses
 * would fail the whole batched ledger write it travels in, again on every retry. Throws for a
 * value with no JSON form (a BigInt, a cycle, a function).
 */
export function storableJson(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  // undefined, a function or a symbol: JSON.stringify returns no text at all.
  if (text === undefined) throw new TypeError(`the value is of type ${typeof value}, which has no JSON form`);
  // Most text has no \u escape at all: skip the scan.
  return text.includes('\\u') ? text.replace(UNSTORABLE_ESCAPE, '$1\\ufffd') : text;
}
