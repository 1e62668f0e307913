/**
 * Operating points: for a budget of good parts failed (false rejects), the image-score threshold
 * that keeps within it on the evaluated set, and the share of defective parts still failed there
 * (caught). What an automation engineer reads to set `cameras[].threshold` from a line's labelled
 * archive (`linewatch archive-export`) or any evaluation set; the model's shipped threshold is
 * given the same way for comparison.
 *
 * A threshold picked on a set is optimistic on that set. For good parts whose scores are
 * exchangeable with the set's (same line, same conditions), a new good part scores above the
 * k-th highest of n good scores with probability k / (n + 1) (the order-statistic argument behind
 * distribution-free tolerance limits, Wilks 1941); that is the expected false-reject share on new
 * parts given beside the measured one. Rates carry a 95 % Wilson score interval (Wilson 1927).
 */
import type { Interval } from "./bootstrap.js";
import type { ImageResult } from "./metrics.js";

/** The budgets of good parts failed that every evaluation reports, shares 0..1. */
export const GOOD_FAIL_BUDGETS: readonly number[] = [0, 0.005, 0.01, 0.02, 0.05, 0.1];

/** Thresholds are given to this many decimals, rounded up, as a config would carry them. */
const DECIMALS = 4;

/** A count out of a total, with its share and a 95 % Wilson score interval (NaN when the total is 0). */
export interface Rate {
  count: number;
  of: number;
  /** count / of, 0..1. */
  rate: number;
  ci95: Interval;
}

/** One threshold and what it does on the evaluated set. */
export interface OperatingPoint {
  /** The largest share of good parts this point may fail, 0..1; null for the shipped threshold. */
  good_fail_budget: number | null;
  /** Image-score threshold, calibrated units (score >= threshold fails). */
  threshold: number;
  /** Good images failed at the threshold. */
  good_failed: Rate;
  /**
   * Expected share of new good parts failed at a threshold picked on this set (k / (n + 1), at
   * most: the threshold is rounded up); null for the shipped threshold, which was not picked here.
   */
  good_fail_expected_new: number | null;
  /** Defective images failed (caught) at the threshold. */
  defects_caught: Rate;
  /** The same per defect type. */
  per_type_caught: Record<string, Rate>;
}

/** The shipped threshold's point, and one per budget (none when the set has no good image). */
export interface OperatingPoints {
  shipped: OperatingPoint;
  budgets: OperatingPoint[];
}

const Z95 = 1.959963984540054;

/** A count out of a total with its Wilson score interval. */
export function rate(count: number, of: number): Rate {
  if (of === 0) return { count, of, rate: NaN, ci95: [NaN, NaN] };
  const p = count / of;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * of)) / (1 + z2 / of);
  const half = (Z95 / (1 + z2 / of)) * Math.sqrt((p * (1 - p)) / of + z2 / (4 * of * of));
  return { count, of, rate: p, ci95: [Math.max(0, centre - half), Math.min(1, centre + half)] };
}

/** The lowest threshold with DECIMALS decimals strictly above `v`. */
export function thresholdAbove(v: number): number {
  const f = 10 ** DECIMALS;
  const t = Math.ceil(v * f) / f;
  return (t > v ? t : (Math.round(v * f) + 1) / f) + 0; // + 0: no -0 in a config
}

/**
 * The threshold a good-fail budget picks on ascending good scores: just above the (m + 1)-th
 * highest, m = floor(budget x n), so at most m good parts (`allowed`) fail; null when m >= n (no
 * good part would have to pass). Throws RangeError for a budget outside [0, 1).
 */
export function budgetThreshold(sortedGood: Float64Array, budget: number): { threshold: number; allowed: number } | null {
  if (!(budget >= 0 && budget < 1)) throw new RangeError(`good-fail budget ${budget} is not a share in [0, 1)`);
  const n = sortedGood.length;
  const m = Math.floor(budget * n + 1e-9);
  return m >= n ? null : { threshold: thresholdAbove(sortedGood[n - 1 - m]), allowed: m };
}

/** A budget share as a percentage, as precise as it was given (0.25 % stays 0.25 %). */
export function budgetText(b: number): string {
  return `${+(100 * b).toFixed(3)} %`;
}

function point(results: readonly ImageResult[], threshold: number, budget: number | null, expected: number | null): OperatingPoint {
  const good = results.filter((r) => !r.defective);
  const bad = results.filter((r) => r.defective);
  const failed = (rs: readonly ImageResult[]) => rs.filter((r) => r.score >= threshold).length;
  const per_type_caught: Record<string, Rate> = {};
  for (const t of [...new Set(bad.map((r) => r.type))].sort()) {
    const of = bad.filter((r) => r.type === t);
    per_type_caught[t] = rate(failed(of), of.length);
  }
  return {
    good_fail_budget: budget,
    threshold,
    good_failed: rate(failed(good), good.length),
    good_fail_expected_new: expected,
    defects_caught: rate(failed(bad), bad.length),
    per_type_caught,
  };
}

/**
 * The operating points of a set's image scores.
 * @param results one per test image (its score and its good/defective label are read)
 * @param shippedThreshold the model's image threshold, calibrated units
 * @param budgets shares of good parts allowed to fail, each 0..1
 */
export function operatingPoints(results: readonly ImageResult[], shippedThreshold: number, budgets: readonly number[] = GOOD_FAIL_BUDGETS): OperatingPoints {
  const good = Float64Array.from(results.filter((r) => !r.defective).map((r) => r.score)).sort();
  const n = good.length;
  const points: OperatingPoint[] = [];
  if (n > 0) {
    for (const budget of budgets) {
      const picked = budgetThreshold(good, budget);
      // A new good part fails there with probability (m + 1) / (n + 1) at most.
      if (picked !== null) points.push(point(results, picked.threshold, budget, (picked.allowed + 1) / (n + 1)));
    }
  }
  return { shipped: point(results, shippedThreshold, null, null), budgets: points };
}
