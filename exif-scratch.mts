import { renderThumbnail } from "./src/publish/thumbnail.ts";
import { makeDecision } from "./test/publish/fixtures.ts";
for (const [w, h] of [[1280, 720], [1920, 1080]]) {
  const d = makeDecision("cam_a", 3, { fail: true, width: w, height: h });
  const step = 4, gw = Math.ceil(w / step), gh = Math.ceil(h / step);
  const mask = new Uint8Array(gw * gh); for (let j = 50; j < 60; j++) for (let i = 100; i < 130; i++) mask[j * gw + i] = 1;
  const dd = { ...d, mask, map: { ...d.map, width: gw, height: gh, step } };
  for (let i = 0; i < 20; i++) await renderThumbnail(dd, 320, 75);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let r = 0; r < 200; r++) await renderThumbnail(dd, 320, 75);
  const c = process.cpuUsage(c0);
  console.log(`${w}x${h} step 4: wall ${((performance.now() - t0) / 200).toFixed(1)} ms, cpu ${((c.user + c.system) / 1000 / 200).toFixed(1)} ms per thumbnail`);
}
