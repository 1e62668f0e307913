// The few-shot table of the README: `linewatch eval --shots K --seed S --json` for every K and seed,
// one after another, with progress and an ETA on stderr; a markdown table (mean, and per seed) on
// stdout and every run's JSON in OUT/fewshot.json.
//
//   npx tsc -p tsconfig.json && node scripts/fewshotTable.mjs --model models/magtile-student \
//       --dataset ../shared/datasets/magnetic-tile [--shots 0,1,2,4,8] [--seeds 0,1,2] [--out eval-fewshot]
//
// It keeps the development box's quiet protocol: while /tmp/linewatch-quiet exists (someone is
// timing), it waits before starting the next run.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: {
    model: { type: "string", default: "models/magtile-student" },
    dataset: { type: "string", default: "../shared/datasets/magnetic-tile" },
    shots: { type: "string", default: "0,1,2,4,8" },
    seeds: { type: "string", default: "0,1,2" },
    out: { type: "string", default: "eval-fewshot" },
  },
});
const shots = o.shots.split(",").map(Number);
const seeds = o.seeds.split(",").map(Number);
// k = 0 uses no reference, so one run stands for every seed.
const runs = shots.flatMap((k) => (k === 0 ? [[0, seeds[0]]] : seeds.map((s) => [k, s])));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
const t0 = Date.now();
for (const [i, [k, seed]] of runs.entries()) {
  while (existsSync("/tmp/linewatch-quiet")) await sleep(10_000);
  const args = ["dist/src/cli.cjs", "eval", "--model", o.model, "--dataset", o.dataset, "--shots", String(k), "--seed", String(seed), "--json"];
  const out = execFileSync("nice", ["-n", "19", "node", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const j = JSON.parse(out.trim().split("\n").pop());
  results.push({ shots: k, seed, ...j });
  const done = (Date.now() - t0) / 1000;
  const eta = (done / (i + 1)) * (runs.length - i - 1);
  process.stderr.write(`[${i + 1}/${runs.length}] k=${k} seed=${seed}: image AUROC ${j.image_auroc.toFixed(3)}, pixel ${j.pixel_auroc.toFixed(3)}, AUPRO ${j.aupro.toFixed(3)}, ${j.ms_per_image.toFixed(1)} ms/image; ${done.toFixed(0)} s, ETA ${eta.toFixed(0)} s\n`);
}
mkdirSync(o.out, { recursive: true });
writeFileSync(join(o.out, "fewshot.json"), `${JSON.stringify(results, null, 2)}\n`);

const f = (v) => v.toFixed(3);
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const lines = [`| k | image AUROC | pixel AUROC | AUPRO | ms/image | image AUROC per seed (${seeds.join(", ")}) |`, "| --- | --- | --- | --- | --- | --- |"];
for (const k of shots) {
  const r = results.filter((x) => x.shots === k);
  const per = k === 0 ? "(no reference)" : r.map((x) => f(x.image_auroc)).join(", ");
  lines.push(`| ${k} | ${f(mean(r.map((x) => x.image_auroc)))} | ${f(mean(r.map((x) => x.pixel_auroc)))} | ${f(mean(r.map((x) => x.aupro)))} | ${mean(r.map((x) => x.ms_per_image)).toFixed(0)} | ${per} |`);
}
lines.push("", "| k | seed | image AUROC | pixel AUROC | AUPRO |", "| --- | --- | --- | --- | --- |");
for (const r of results) lines.push(`| ${r.shots} | ${r.shots === 0 ? "-" : r.seed} | ${f(r.image_auroc)} | ${f(r.pixel_auroc)} | ${f(r.aupro)} |`);
process.stdout.write(`${lines.join("\n")}\n`);
writeFileSync(join(o.out, "fewshot.md"), `${lines.join("\n")}\n`);
