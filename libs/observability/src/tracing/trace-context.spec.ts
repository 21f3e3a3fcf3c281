import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { carriedContext } from './trace-context';

describe('carriedContext', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';

  it("reads the parent from the job's traceparent, as a remote span context with its sampled flag", () => {
    const parent = trace.getSpanContext(carriedContext(JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01` })));
    expect(parent).toEqual({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(trace.getSpanContext(carriedContext(JSON.stringify({ traceparent: `00-${traceId}-${spanId}-00` })))?.traceFlags).toBe(0);
  });

  it('starts a trace of its own for no carrier, a damaged one or all-zero ids', () => {
    expect(carriedContext(undefined)).toBe(ROOT_CONTEXT);
    expect(carriedContext('{"traceparent":')).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(carriedContext(JSON.stringify({ traceparent: `00-${'0'.repeat(32)}-${spanId}-01` })))).toBeUndefined();
    expect(trace.getSpanContext(carriedContext(JSON.stringify({ traceparent: `00-${traceId}-${'0'.repeat(16)}-01` })))).toBeUndefined();
  });

  it('leaves a carrier with more than a traceparent to the configured propagators', () => {
    const carrier = JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=1' });
    // None configured: the fast path does not take it, so nothing is read.
    expect(trace.getSpanContext(carriedContext(carrier))).toBeUndefined();
    // The W3C propagator configured: it reads the parent and its tracestate.
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const parent = trace.getSpanContext(carriedContext(carrier));
      expect({ traceId: parent?.traceId, spanId: parent?.spanId, state: parent?.traceState?.get('vendor') }).toEqual({ traceId, spanId, state: '1' });
    } finally {
      propagation.disable();
    }
  });
});
