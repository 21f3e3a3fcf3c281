/**
 * Named places where a crash test can kill the process on purpose, to prove what a real crash
 * at that instant leaves behind (e.g. a completion and its follow-ups committed, their jobs not
 * yet queued). Off unless CONVEYOR_FAILPOINTS lists the name; then the process ends there with
 * SIGKILL, like `kill -9`, with no cleanup. For tests only: never set it in production.
 */
const ACTIVE = new Set((process.env.CONVEYOR_FAILPOINTS ?? '').split(',').filter(Boolean));

export function failpoint(name: string): void {
  if (ACTIVE.has(name)) process.kill(process.pid, 'SIGKILL');
}
