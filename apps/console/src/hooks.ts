import { useEffect, useRef, useState } from 'preact/hooks';
import { message } from './format';

/**
 * Loads with `load` now and every `everyMs` (0: once) while mounted and `deps` are unchanged;
 * a slow answer never overwrites a newer one.
 */
export function usePolled<T>(load: () => Promise<T>, everyMs: number, deps: unknown[]): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    let stopped = false;
    const run = async () => {
      const call = ++latest.current;
      try {
        const value = await load();
        if (!stopped && call === latest.current) {
          setData(value);
          setError(null);
        }
      } catch (failure) {
        if (!stopped && call === latest.current) setError(message(failure));
      }
    };
    void run();
    const timer = everyMs > 0 ? setInterval(() => void run(), everyMs) : undefined;
    return () => {
      stopped = true;
      if (timer) clearInterval(timer);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}
