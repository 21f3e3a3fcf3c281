import { ConveyorError, ConveyorNetworkError, ConveyorRateLimitError, ConveyorUnavailableError, errorFromResponse } from './errors.js';

export interface TransportOptions {
  url: string;
  apiKey: string;
  /** Attempts after a failed one, for network failures, 429 and 503 (default 3). */
  retries?: number;
  /** First wait between attempts, doubled each time (default 200 ms). */
  retryDelayMs?: number;
  /** A fetch of your own (tests, proxies); the global one otherwise. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as multipart/form-data instead of `body` (uploads). */
  form?: FormData;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /**
   * Whether sending it twice is harmless: GETs, and POSTs that carry an idempotency key.
   * Only those are retried after a network failure (an answer may have been lost).
   */
  idempotent: boolean;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** HTTP to the API: the bearer key, JSON in and out, typed errors, retries where they are safe. */
export class Transport {
  private readonly base: string;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  /** The fetch in use (the option's, else the global one). */
  readonly fetch: typeof fetch;

  constructor(private readonly options: TransportOptions) {
    if (!options.url) throw new ConveyorError('CLIENT_CONFIG', 'url is required');
    if (!options.apiKey) throw new ConveyorError('CLIENT_CONFIG', 'apiKey is required');
    this.base = options.url.replace(/\/+$/, '');
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  url(path: string, query?: RequestOptions['query']): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value));
    const text = search.toString();
    return `${this.base}${path}${text ? `?${text}` : ''}`;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json', ...extra };
  }

  /** The parsed JSON answer and its status; an error status throws the typed exception. */
  async request<T>(method: string, path: string, options: RequestOptions): Promise<{ status: number; body: T }> {
    const headers = this.headers(options.headers);
    // fetch writes a form's content type itself (with the boundary).
    if (options.body !== undefined && !options.form) headers['content-type'] = 'application/json';
    const body = options.form ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(this.url(path, options.query), { method, headers, body, signal: options.signal });
      } catch (cause) {
        if (options.signal?.aborted) throw cause;
        const error = new ConveyorNetworkError('NETWORK_ERROR', `${method} ${path}: ${(cause as Error).message}`);
        if (options.idempotent && attempt < this.retries) {
          await sleep(this.retryDelayMs * 2 ** attempt);
          continue;
        }
        throw error;
      }
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      if (response.ok) return { status: response.status, body: parsed as T };
      const error = errorFromResponse(response.status, parsed, response.headers.get('retry-after'));
      // Refused before anything was accepted: safe to send again, even without a key.
      if ((error instanceof ConveyorRateLimitError || (error instanceof ConveyorUnavailableError && response.status === 503)) && attempt < this.retries) {
        const wait = error instanceof ConveyorRateLimitError && error.retryAfterMs !== undefined ? error.retryAfterMs : this.retryDelayMs * 2 ** attempt;
        await sleep(wait);
        continue;
      }
      throw error;
    }
  }

  /**
   * A GET whose answer is read as a stream (downloads, event streams): the Response once its
   * status is 2xx, else the typed exception. Network failures are not retried here.
   */
  async open(path: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetch(this.url(path), { headers: this.headers(headers), signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new ConveyorNetworkError('NETWORK_ERROR', `GET ${path}: ${(cause as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      throw errorFromResponse(response.status, parsed, response.headers.get('retry-after'));
    }
    return response;
  }
}
