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
 * would fail the whole batched ledger write it travels in, again on every retry.
 */
export function storableJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSTORABLE_ESCAPE, '$1\\ufffd');
}
