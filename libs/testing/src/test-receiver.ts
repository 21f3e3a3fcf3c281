import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
}

/** How the receiver answers request number `n` (1-based). */
export type Answer = (n: number, request: Received, response: ServerResponse) => void | Promise<void>;

export const ok: Answer = (_n, _r, response) => void response.writeHead(200).end('ok');

/**
 * A real HTTP server standing in for a tenant's receiver: records every request (headers and
 * raw body, as a verifier needs them) and the most requests it ever had in flight at once.
 */
export class TestReceiver {
  readonly received: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly server: Server;

  constructor(public answer: Answer = ok) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const received = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), path: request.url ?? '' };
        this.received.push(received);
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        response.on('close', () => (this.inFlight -= 1));
        void this.answer(this.received.length, received, response);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Settings for apps whose webhooks deliver to a receiver in the test: loopback allowed over
 * plain http on any port, endpoints active after `activationMs`, the outbox polled every 50 ms.
 */
export function localWebhookEnv(activationMs = 500): Record<string, string> {
  return {
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WEBHOOK_ALLOWED_PORTS: '*',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ACTIVATION_DELAY_MS: String(activationMs),
    WEBHOOK_POLL_INTERVAL_MS: '50',
  };
}
