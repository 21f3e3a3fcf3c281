import type { Received } from '@conveyor/testing';

/** A span as an OTLP/HTTP JSON export carries it, flattened with its service's name. */
export interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

/** OTLP span kinds (the enum's numbers in the JSON encoding). */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

const valueOf = (value: AnyValue): unknown =>
  value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue));
const attributesOf = (list: KeyValue[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, valueOf(value)]));
/** Ids are hex in OTLP/JSON; base64 (the protobuf mapping) is read too. */
const hex = (id: string | undefined) => (!id ? '' : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));

/** Every span of the trace exports a test receiver got (`POST /v1/traces`, `http/json`). */
export function exportedSpans(received: Received[]): ExportedSpan[] {
  return received
    .filter((request) => request.path.startsWith('/v1/traces'))
    .flatMap((request) => {
      const body = JSON.parse(request.body) as {
        resourceSpans?: Array<{
          resource?: { attributes?: KeyValue[] };
          scopeSpans?: Array<{
            spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: KeyValue[] }>;
          }>;
        }>;
      };
      return (body.resourceSpans ?? []).flatMap((resourceSpans) => {
        const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
        return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
          (scope.spans ?? []).map((span) => ({
            service,
            traceId: hex(span.traceId),
            spanId: hex(span.spanId),
            parentSpanId: hex(span.parentSpanId),
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
          })),
        );
      });
    });
}
