'use strict';

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

function median(values) {
  const list = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  return quantile(list, 0.5);
}

function percentiles(values, qs = [0.5, 0.95, 0.99]) {
  const sorted = [...values].sort((a, b) => a - b);
  const out = { count: sorted.length, min: sorted[0] ?? null, max: sorted[sorted.length - 1] ?? null };
  for (const q of qs) out[`p${Math.round(q * 1000) / 10}`.replace('.', '_')] = quantile(sorted, q);
  out.mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
  return out;
}

const round = (value, digits = 2) => (typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : value);

/**
 * Summary of interleaved A/B rounds: medians of each side's metric, and the ratio as the median
 * of the per-round ratios (each round pairs runs taken back to back, so slow drifts of the
 * shared machine cancel out), plus the ratio of the medians for reference.
 */
function compare(conveyorRuns, baselineRuns, metric, { higherIsBetter = true } = {}) {
  const a = conveyorRuns.map((r) => r[metric]);
  const b = baselineRuns.map((r) => r[metric]);
  const paired = a.map((value, i) => (b[i] ? value / b[i] : null)).filter((v) => v !== null);
  const conveyor = median(a);
  const baseline = median(b);
  return {
    metric,
    higherIsBetter,
    conveyor: round(conveyor),
    baseline: round(baseline),
    ratio: round(median(paired), 3),
    ratioOfMedians: round(baseline ? conveyor / baseline : null, 3),
    pairedRatios: paired.map((v) => round(v, 3)),
  };
}

module.exports = { quantile, median, percentiles, round, compare };
