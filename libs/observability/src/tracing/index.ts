export { startTracing, stopTracing, tracingOn } from './tracing-state';
export { tracingRequested } from './tracing-switch';
export { activeTraceId, captureTrace, inConsumerSpan, inSharedSpan, inSpan, jobTraceCarrier, SpanKind, traceLogFields } from './trace-context';
export type { CapturedTrace } from './trace-context';
export { installServerSpans } from './http-server-span';
