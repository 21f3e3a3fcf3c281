'use strict';
/**
 * Output, errors and small helpers every part of the dev launcher uses. Plain CommonJS without
 * dependencies (see dev.js).
 */
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { ROOT } = require('../lib/project-node');

const useColor = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const COLORS = { dev: 32, api: 36, worker: 35, postgres: 34, redis: 31, migrate: 33 };

function tag(name) {
  const text = `[${name}]`;
  return useColor && COLORS[name] ? `\x1b[${COLORS[name]}m${text}\x1b[0m` : text;
}

function say(message) {
  process.stdout.write(`${tag('dev')} ${message}\n`);
}

function warn(message) {
  process.stderr.write(`${tag('dev')} ${message}\n`);
}

/** A failure the user can act on: printed as is, without a stack trace. */
class LauncherError extends Error {}
/** Thrown by startup steps that notice a shutdown has begun; not an error to report. */
const CANCELLED = Symbol('cancelled');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function intSetting(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new LauncherError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Is `pid` alive and running a command line containing `needle`? null when we cannot tell. */
function processMatches(pid, needle) {
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return null; // no /proc (macOS): alive, but we cannot say what it is
  }
}

function findOnPath(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The URL with its password replaced, for printing. */
function redactUrl(raw) {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function relativeToRoot(file) {
  const rel = path.relative(ROOT, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Does something accept TCP connections on host:port? */
function probeTcp(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** GET url; resolves to the status code, or 0 when nothing answered. */
function httpStatus(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

module.exports = {
  useColor,
  tag,
  say,
  warn,
  LauncherError,
  CANCELLED,
  sleep,
  mtimeMs,
  intSetting,
  isAlive,
  processMatches,
  findOnPath,
  redactUrl,
  relativeToRoot,
  probeTcp,
  httpStatus,
};
