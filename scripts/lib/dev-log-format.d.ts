/** Types of dev-log-format.js (plain CommonJS: the dev launcher runs it without a build). */
export function wantsPretty(env: Record<string, string | undefined>, isTTY: boolean | undefined): boolean;
export function lineFormatter(options: { pretty: boolean; colorize: boolean; onMissing?: () => void }): (line: string) => string[];
