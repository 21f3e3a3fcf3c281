/**
 * Whether this process traces, from the standard OpenTelemetry variables alone: only when an
 * exporter is configured (`OTEL_TRACES_EXPORTER` naming one, or an OTLP endpoint), and never
 * with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Off by default, so a deployment
 * that sets nothing pays nothing: the SDK is not even loaded then.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return !!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
}
