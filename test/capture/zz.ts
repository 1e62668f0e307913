import { camera, sleep } from "./helpers.js";
const { cam, frames } = camera({ id: "loop", kind: "file", path: "/tmp/gx/v.mkv", loop: true });
await cam.start(); await sleep(4000); console.log(frames.length, cam.stats()); await cam.stop();
