import { tracingRequested } from './tracing-switch';

interface StartedSdk {
  shutdown(): Promise<void>;
}

let sdk: StartedSdk | undefined;

/** True once this process started the tracing SDK; every tracing helper does nothing otherwise. */
export let tracingOn = false;

/**
 * Starts tracing when the environment asks for it (see tracingRequested). Each app's `main.ts`
 * calls this before it imports anything else, since the instrumentations patch `http`, `pg`,
 * `mysql2` and `ioredis` as they load. With tracing off the SDK is never required.
 */
export function startTracing(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tracingOn || !tracingRequested(env)) return tracingOn;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
  const { startTracingSdk } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  sdk = startTracingSdk(defaultServiceName);
  tracingOn = true;
  return true;
}

/** Exports the spans still buffered and stops the SDK; called at shutdown. */
export async function stopTracing(): Promise<void> {
  const started = sdk;
  sdk = undefined;
  if (!started) return;
  try {
    await started.shutdown();
  } catch {
    // The collector is gone: the spans buffered now are lost, the shutdown goes on.
  }
}
