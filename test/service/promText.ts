/** One parsed sample line of the Prometheus text format. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/;

/**
 * A strict parser of the text exposition format 0.0.4: every line must be a HELP, a TYPE or a
 * sample, a TYPE comes before its samples and at most once per family. Throws on the first bad line.
 */
export function parsePromText(text: string): { samples: ParsedSample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const samples: ParsedSample[] = [];
  if (!text.endsWith("\n")) throw new Error("must end with a newline");
  for (const [i, l] of text.slice(0, -1).split("\n").entries()) {
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(l);
    if (t) {
      if (types.has(t[1])) throw new Error(`line ${i + 1}: second TYPE for ${t[1]}`);
      types.set(t[1], t[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(l)) continue;
    const m = SAMPLE.exec(l);
    if (!m) throw new Error(`line ${i + 1}: not valid exposition text: ${l}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    if (!types.has(m[1]) && !types.has(family)) throw new Error(`line ${i + 1}: sample before its TYPE: ${l}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    samples.push({ name: m[1], labels, value: m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]) });
  }
  return { samples, types };
}
