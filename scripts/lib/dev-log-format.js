'use strict';
/**
 * How the dev launcher shows the apps' JSON log lines: as they are, or made readable by
 * pino-pretty (a devDependency): time, level, `context: message`, then the line's other fields.
 *
 *   LOG_PRETTY=1 / true   readable lines
 *   LOG_PRETTY=0 / false  the JSON lines as the apps write them (for jq, or to copy into a bug report)
 *   unset                 readable when the launcher's output is a terminal, JSON otherwise
 */

/** Whether to pretty-print, from LOG_PRETTY and whether stdout is a terminal. */
function wantsPretty(env, isTTY) {
  const setting = (env.LOG_PRETTY || '').trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(setting)) return true;
  if (['0', 'false', 'no', 'off'].includes(setting)) return false;
  return Boolean(isTTY);
}

/**
 * A function from one output line to the lines to print: identity when not pretty (or when
 * pino-pretty is not installed, e.g. a production install: then `onMissing` is told once);
 * else JSON lines are formatted and anything else passes through unchanged.
 */
function lineFormatter({ pretty, colorize, onMissing = () => {} }) {
  if (!pretty) return (line) => [line];
  let prettyFactory;
  try {
    ({ prettyFactory } = require('pino-pretty'));
  } catch {
    onMissing();
    return (line) => [line];
  }
  const format = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,context',
    messageFormat: '{if context}{context}: {end}{msg}',
    errorLikeObjectKeys: ['err', 'error'],
  });
  return (line) => {
    if (!line.startsWith('{')) return [line];
    try {
      JSON.parse(line);
    } catch {
      return [line];
    }
    return format(line).replace(/\n$/, '').split('\n');
  };
}

module.exports = { wantsPretty, lineFormatter };
