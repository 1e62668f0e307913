import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { ZodIssue } from "zod";
import { configSchema, type Config } from "./schema.js";

/** The folder linewatch is installed in (holds models/, config/). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", ...(import.meta.url.includes("/dist/") ? [".."] : []));

/** The model bundled with linewatch, used when the config names none. */
export const defaultModelDir = resolve(packageRoot, "models", "magtile-student");

/** A config that cannot be used; carries every problem found, each with its path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

function formatIssue(issue: ZodIssue): string {
  const path = issue.path.length ? issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "") : "(root)";
  if (issue.code === "unrecognized_keys") return `${path}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  if (issue.code === "invalid_union_discriminator") return `${path}: must be one of ${issue.options.map((o) => `'${String(o)}'`).join(", ")}`;
  return `${path}: ${issue.message}`;
}

/** Duplicate camera ids, found on the raw document so they show even when other fields are wrong. */
function duplicateIds(doc: unknown): string[] {
  const cams = (doc as { cameras?: unknown } | null)?.cameras;
  if (!Array.isArray(cams)) return [];
  const seen = new Set<unknown>();
  const problems: string[] = [];
  cams.forEach((c: unknown, i) => {
    const id = (c as { id?: unknown } | null)?.id;
    if (typeof id !== "string") return;
    if (seen.has(id)) problems.push(`cameras[${i}].id: duplicate camera id '${id}'`);
    seen.add(id);
  });
  return problems;
}

/** Validates a parsed YAML document; relative paths are resolved against `baseDir`. */
export function parseConfig(doc: unknown, file: string, baseDir: string): Config {
  const result = configSchema.safeParse(doc ?? {});
  const problems = [...(result.success ? [] : result.error.issues.map(formatIssue)), ...duplicateIds(doc)];
  if (!result.success || problems.length) throw new ConfigError(file, problems);
  const cfg = result.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.state_dir = abs(cfg.state_dir);
  cfg.model.dir = cfg.model.dir ? abs(cfg.model.dir) : defaultModelDir;
  for (const cam of cfg.cameras) {
    if (cam.kind === "images" || cam.kind === "file") cam.path = abs(cam.path);
  }
  const tls = cfg.mqtt.tls;
  if (tls) for (const k of ["ca", "cert", "key"] as const) if (tls[k]) tls[k] = abs(tls[k]!);
  if (cfg.mqtt.password_file && (isAbsolute(cfg.mqtt.password_file) || cfg.mqtt.password_file.includes("/"))) cfg.mqtt.password_file = abs(cfg.mqtt.password_file);
  return cfg;
}

/** Reads, parses and validates a config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const e = err as YAMLParseError;
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(root)";
    throw new ConfigError(file, [`${where}: not valid YAML: ${e.message.split("\n")[0]}`]);
  }
  return parseConfig(doc, file, dirname(resolve(file)));
}
