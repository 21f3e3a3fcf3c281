import {
  context,
  INVALID_TRACEID,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { tracingOn } from './tracing-state';

let conveyorTracer: Tracer | undefined;
/** The tracer of Conveyor's own spans (request, enqueue, task attempt, webhook delivery); looked up once. */
export const tracer = (): Tracer => (conveyorTracer ??= trace.getTracer('conveyor'));

/**
 * The trace id of the work under way, or null (tracing off, or no span active). Asked for every
 * log line, so it only compares with the invalid id: the spans of this process are the SDK's,
 * whose ids are valid or all zeros (not sampled in a non-recording parent).
 */
export function activeTraceId(): string | null {
  if (!tracingOn) return null;
  const traceId = trace.getActiveSpan()?.spanContext().traceId;
  return traceId && traceId !== INVALID_TRACEID ? traceId : null;
}

/** What a log line gets while tracing is on: the trace id of the work it belongs to. */
export function traceLogFields(): { traceId?: string } {
  const traceId = activeTraceId();
  return traceId ? { traceId } : {};
}

let lastCarrier: { span: Span; carrier: string } | undefined;

/**
 * The trace context a job carries, in the format of BullMQ's own telemetry metadata
 * (`opts.telemetry.metadata`: the propagation fields as JSON), so BullMQ's instrumentation
 * would read it too. The live context when the job is made within the trace its task belongs to
 * (an enqueue, a handler's follow-up); otherwise (a job re-made from its ledger row by the
 * reconciler, a manual retry, a flow parent released later) a parent in the task's stored
 * trace: its span id is derived from the task id, since the original span's is not kept. The
 * attempt then still belongs to the task's trace, under a parent the trace does not show.
 */
export function jobTraceCarrier(traceId: string | null, taskId: string): string | undefined {
  if (!tracingOn || !traceId) return undefined;
  const activeSpan = trace.getActiveSpan();
  const active = activeSpan?.spanContext();
  if (active && isSpanContextValid(active) && active.traceId === traceId) {
    // The tasks of one request share it: made once per span.
    if (lastCarrier && lastCarrier.span === activeSpan) return lastCarrier.carrier;
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    lastCarrier = { span: activeSpan!, carrier: JSON.stringify(carrier) };
    return lastCarrier.carrier;
  }
  return JSON.stringify({ traceparent: `00-${traceId}-${taskId.replace(/-/g, '').slice(-16)}-01` });
}

function endWith<T>(span: Span, work: Promise<T>): Promise<T> {
  return work.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    },
  );
}

/** A span's attributes, or what makes them (so nothing is built with tracing off). */
type SpanAttributes = Attributes | (() => Attributes);
const attributesOf = (attributes: SpanAttributes) => (typeof attributes === 'function' ? attributes() : attributes);

/** W3C `traceparent`, version 00: trace id, parent span id, flags. */
const TRACEPARENT = /"traceparent":"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"/;

/**
 * The parent context a job carried (see jobTraceCarrier): read straight from its `traceparent`,
 * the one field Conveyor writes, without parsing the JSON or running every propagator per
 * attempt; anything else goes through the configured propagators. Not ours or damaged: ROOT
 * (the attempt starts its own trace).
 */
export function carriedContext(carrier: string | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  const fields = TRACEPARENT.exec(carrier);
  if (fields && fields[1] !== INVALID_TRACEID && fields[2] !== '0000000000000000' && !/"(tracestate|baggage)"/.test(carrier)) {
    const traceFlags = parseInt(fields[3], 16) & TraceFlags.SAMPLED;
    return trace.setSpanContext(ROOT_CONTEXT, { traceId: fields[1], spanId: fields[2], traceFlags, isRemote: true });
  }
  try {
    return propagation.extract(ROOT_CONTEXT, JSON.parse(carrier) as Record<string, string>);
  } catch {
    return ROOT_CONTEXT;
  }
}

/** Runs `work` in a new span, a child of the active one; just runs it with tracing off. */
export function inSpan<T>(name: string, kind: SpanKind, attributes: SpanAttributes, work: () => Promise<T>): Promise<T> {
  if (!tracingOn) return work();
  const span = tracer().startSpan(name, { kind, attributes: attributesOf(attributes) });
  return context.with(trace.setSpan(context.active(), span), () => endWith(span, work()));
}

/**
 * Runs `work` in a consumer span whose parent is the context a job carried (see
 * jobTraceCarrier); a job without one starts a trace of its own. Just runs it with tracing off.
 */
export function inConsumerSpan<T>(name: string, carrier: string | undefined, attributes: SpanAttributes, work: () => Promise<T>): Promise<T> {
  if (!tracingOn) return work();
  const parent = carriedContext(carrier);
  const span = tracer().startSpan(name, { kind: SpanKind.CONSUMER, attributes: attributesOf(attributes) }, parent);
  return context.with(trace.setSpan(parent, span), () => endWith(span, work()));
}

/** The trace context a caller was in, kept for work done later on its behalf; undefined with tracing off. */
export type CapturedTrace = Context | undefined;

export function captureTrace(): CapturedTrace {
  return tracingOn ? context.active() : undefined;
}

/**
 * Work done once for several callers (one Redis add for the jobs of many requests): one client
 * span in the first caller's trace, linked to the others' spans, with the calls inside it not
 * traced one by one (a bulk add is a command per job, and those spans would land in whichever
 * trace happened to start the add). Just runs it with tracing off.
 */
export function inSharedSpan<T>(name: string, callers: CapturedTrace[], attributes: SpanAttributes, work: () => Promise<T>): Promise<T> {
  if (!tracingOn) return work();
  const parent = callers[0] ?? ROOT_CONTEXT;
  const links: Link[] = callers.slice(1).flatMap((caller) => {
    const span = caller && trace.getSpanContext(caller);
    return span && isSpanContextValid(span) ? [{ context: span }] : [];
  });
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes: attributesOf(attributes), links }, parent);
  return context.with(suppressTracing()(trace.setSpan(parent, span)), () => endWith(span, work()));
}

let suppressing: typeof import('@opentelemetry/core').suppressTracing | undefined;
/** The SDK's suppressTracing, required once (with tracing on, every `require` call runs the instrumentations' hook). */
function suppressTracing() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- part of the SDK: loaded only when tracing is on
  return (suppressing ??= (require('@opentelemetry/core') as typeof import('@opentelemetry/core')).suppressTracing);
}

export { SpanKind };
