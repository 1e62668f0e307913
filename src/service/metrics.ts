/**
 * A small Prometheus registry: counters, gauges and histograms with labels, plus collectors that
 * are read at scrape time, so stages only expose `stats()` objects and main.ts maps them here.
 * Renders the text exposition format 0.0.4.
 */

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** A metric type as written on the `# TYPE` line. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One value of a collected metric. */
export interface Sample {
  labels?: Labels;
  value: number;
}

/** A metric family a collector returns at scrape time (counter or gauge). */
export interface CollectedMetric {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: Sample[];
}

/** Called at every scrape; may be async (e.g. systeminformation). */
export type Collector = () => CollectedMetric[] | Promise<CollectedMetric[]>;

/** Content-Type of {@link MetricsRegistry.render}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Default histogram buckets for latencies in milliseconds. */
export const LATENCY_MS_BUCKETS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Thrown for a bad metric or label name or a duplicate registration. */
export class MetricError extends Error {
  constructor(
    message: string,
    readonly metric: string,
  ) {
    super(message);
    this.name = "MetricError";
  }
}

function key(labels: Labels | undefined): string {
  if (!labels) return "";
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k])}"`)
    .join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A number as Prometheus writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function line(name: string, labelKey: string, value: number): string {
  return `${name}${labelKey ? `{${labelKey}}` : ""} ${formatValue(value)}`;
}

function checkLabels(metric: string, labels: Labels | undefined): void {
  for (const k of Object.keys(labels ?? {})) if (!LABEL.test(k) || k === "le") throw new MetricError(`bad label name '${k}' on ${metric}`, metric);
}

/** Shared by the three kinds: name, help, values by label set. */
abstract class Metric {
  protected readonly values = new Map<string, number>();
  abstract readonly type: MetricType;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** The exposition lines of this family. */
  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) out.push(line(this.name, k, v));
    return out;
  }
}

/** A value that only goes up. */
export class Counter extends Metric {
  readonly type = "counter";

  /** Adds `by` (>= 0, default 1) to the series of `labels`. */
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new MetricError(`counter ${this.name} cannot go down`, this.name);
    checkLabels(this.name, labels);
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  readonly type = "gauge";

  /** Sets the series of `labels` to `value`. */
  set(value: number, labels?: Labels): void {
    checkLabels(this.name, labels);
    this.values.set(key(labels), value);
  }

  /** Adds `by` (may be negative). */
  inc(labels?: Labels, by = 1): void {
    checkLabels(this.name, labels);
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Metric {
  readonly type = "histogram";
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();

  constructor(
    name: string,
    help: string,
    /** Upper bounds, ascending; +Inf is added. */
    readonly buckets: readonly number[],
  ) {
    super(name, help);
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1])) throw new MetricError(`buckets of ${name} must ascend`, name);
  }

  /** Records one observation. */
  observe(value: number, labels?: Labels): void {
    checkLabels(this.name, labels);
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { buckets: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.buckets[i]++;
    s.sum += value;
    s.count++;
  }

  override lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) => out.push(line(`${this.name}_bucket`, `${k}${sep}le="${formatValue(b)}"`, s.buckets[i])));
      out.push(line(`${this.name}_bucket`, `${k}${sep}le="+Inf"`, s.count));
      out.push(line(`${this.name}_sum`, k, s.sum));
      out.push(line(`${this.name}_count`, k, s.count));
    }
    return out;
  }
}

/** Holds the daemon's metrics and renders them for /metrics. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: Collector[] = [];

  /** Registers a counter; names end in `_total` by convention. */
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  /** Registers a gauge. */
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }

  /** Registers a histogram with the given upper bounds. */
  histogram(name: string, help: string, buckets: readonly number[] = LATENCY_MS_BUCKETS): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** Adds a collector read at every scrape; a collector that throws is skipped for that scrape. */
  registerCollector(fn: Collector): void {
    this.collectors.push(fn);
  }

  /** The text exposition (format 0.0.4) of every metric and collector. */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const m of this.metrics.values()) out.push(...m.lines());
    const collected = await Promise.all(this.collectors.map(async (c) => {
      try {
        return await c();
      } catch {
        return [];
      }
    }));
    for (const fam of collected.flat()) {
      if (!NAME.test(fam.name)) continue;
      out.push(`# HELP ${fam.name} ${escapeHelp(fam.help)}`, `# TYPE ${fam.name} ${fam.type}`);
      for (const s of fam.samples) out.push(line(fam.name, key(s.labels), s.value));
    }
    return out.join("\n") + "\n";
  }

  private add<M extends Metric>(m: M): M {
    if (!NAME.test(m.name)) throw new MetricError(`bad metric name '${m.name}'`, m.name);
    if (this.metrics.has(m.name)) throw new MetricError(`metric ${m.name} registered twice`, m.name);
    this.metrics.set(m.name, m);
    return m;
  }
}
