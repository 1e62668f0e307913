import type { InferImage } from "../../src/eval/runEval.js";

/**
 * A detector for the eval tests' synthetic images: a pixel's anomaly is its brightness above the
 * mid-grey background (128) scaled to 1 at 250, the image score the map's maximum. Bright
 * defects painted on a grey part therefore score high, and a perfect labelling is known exactly.
 */
export const brightDetector: InferImage = async (image) => {
  const map = new Float32Array(image.width * image.height);
  for (let k = 0; k < map.length; k++) map[k] = Math.max(0, image.data[k] - 128) / 122;
  return { score: Math.max(...map), map };
};
