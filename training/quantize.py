#!/usr/bin/env python3
"""Export an INT8 (QDQ) variant of a linewatch model for CPUs and an FP16 one for GPUs.

    python3 training/quantize.py --model models/magtile-student --images DIR [--out DIR]

Needs onnxruntime's Python package (its quantization tools and its float16 converter), numpy and
PIL. The daemon's machines do not need it: only the exported ONNX files travel.

- INT8: static QDQ quantization (QuantizeLinear/DequantizeLinear pairs, the format ONNX Runtime's
  CPU provider fuses into integer kernels and TensorRT reads as explicit INT8), per-channel int8
  weights, uint8 activations whose ranges come from calibration on tiles cut from `--images`
  exactly as the daemon cuts them (the whole image resized to the input, and grid tiles of twice
  the input size resized down), normalised with the manifest's mean/std.
- FP16: weights and activations in float16, inputs and outputs kept float32
  (keep_io_types), so the manifest and the daemon's feeding code do not change.

Each variant goes to OUT/<name>-int8/ and OUT/<name>-fp16/ with a copy of model.json whose
version gains "+int8"/"+fp16" and whose provenance records the source and the agreement with the
float32 model on the calibration tiles (max and mean absolute map difference, Pearson r).
Thresholds are copied unchanged: run `linewatch eval` on each variant before shipping it, and
recalibrate if its false-alarm rate moved.
"""
import argparse
import hashlib
import json
import os
import time

import numpy as np
from PIL import Image


def tiles_from_image(path, h, w, mean, std, scale):
    """Model inputs cut from one image as the daemon does: resize mode, then a 2x grid."""
    img = Image.open(path).convert("RGB")
    out = [img.resize((w, h), Image.BILINEAR)]
    tw, th = 2 * w, 2 * h
    if img.width >= tw and img.height >= th:
        for x, y in [(0, 0), (img.width - tw, img.height - th), ((img.width - tw) // 2, (img.height - th) // 2)]:
            out.append(img.crop((x, y, x + tw, y + th)).resize((w, h), Image.BILINEAR))
    arrs = []
    for t in out:
        a = np.asarray(t, dtype=np.float32) / scale
        a = (a - np.array(mean, np.float32)) / np.array(std, np.float32)
        arrs.append(a.transpose(2, 0, 1))
    return arrs


def calibration_tiles(images, spec, limit):
    files = sorted(f for f in os.listdir(images) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    tiles = []
    for f in files:
        tiles += tiles_from_image(os.path.join(images, f), spec["height"], spec["width"], spec["mean"], spec["std"], spec["scale"])
        if len(tiles) >= limit:
            break
    if spec["channels"] == 1:
        tiles = [t.mean(axis=0, keepdims=True) for t in tiles]
    return np.stack(tiles[:limit]).astype(np.float32)


def agreement(ref_path, path, x, input_name, map_name):
    """Map differences between the float32 model and a variant on the same tiles, CPU provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    ref = ort.InferenceSession(ref_path, so, providers=["CPUExecutionProvider"])
    var = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    a = np.concatenate([ref.run([map_name], {input_name: x[i : i + 8]})[0] for i in range(0, len(x), 8)])
    b = np.concatenate([var.run([map_name], {input_name: x[i : i + 8]})[0] for i in range(0, len(x), 8)])
    d = np.abs(a - b)
    r = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    return {"tiles": int(len(x)), "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()), "pearson_r": r}


def cpu_ms_per_tile(path, x, input_name, threads, batch=8, seconds=5.0):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    xb = x[:batch]
    for _ in range(3):
        s.run(None, {input_name: xb})
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.run(None, {input_name: xb})
        n += 1
    return 1000 * (time.perf_counter() - t0) / (n * batch)


def write_variant(out_dir, manifest, suffix, src, extra):
    os.makedirs(out_dir, exist_ok=True)
    m = json.loads(json.dumps(manifest))
    m["version"] = f"{manifest['version']}+{suffix}"
    m["provenance"] = {**m.get("provenance", {}), "variant": {"of": f"{manifest['name']} {manifest['version']}", "source_sha256": hashlib.sha256(open(src, "rb").read()).hexdigest(), **extra}}
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="folder with model.onnx and model.json")
    ap.add_argument("--images", required=True, help="folder of good images for calibration")
    ap.add_argument("--out", default="models", help="parent folder of the variants' folders")
    ap.add_argument("--tiles", type=int, default=128, help="calibration tiles")
    ap.add_argument("--bench", action="store_true", help="also time each variant on the CPU provider")
    a = ap.parse_args()

    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers.float16 import convert_float_to_float16
    import onnx

    manifest = json.load(open(os.path.join(a.model, "model.json")))
    spec, name = manifest["input"], manifest["name"]
    src = os.path.join(a.model, "model.onnx")
    x = calibration_tiles(a.images, spec, a.tiles)
    map_name = manifest["outputs"]["map"]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{spec["name"]: x[i : i + 8]} for i in range(0, len(x), 8)])

        def get_next(self):
            return next(self.batches, None)

    int8_dir = os.path.join(a.out, f"{name}-int8")
    os.makedirs(int8_dir, exist_ok=True)
    pre = os.path.join(int8_dir, "pre.onnx")
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    int8 = os.path.join(int8_dir, "model.onnx")
    quantize_static(pre, int8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    os.remove(pre)

    fp16_dir = os.path.join(a.out, f"{name}-fp16")
    os.makedirs(fp16_dir, exist_ok=True)
    fp16 = os.path.join(fp16_dir, "model.onnx")
    onnx.save(convert_float_to_float16(onnx.load(src), keep_io_types=True), fp16)

    report = {}
    for suffix, path, d in [("int8", int8, int8_dir), ("fp16", fp16, fp16_dir)]:
        extra = {"method": "static QDQ, per-channel int8 weights, uint8 activations, MinMax over calibration tiles" if suffix == "int8" else "float16 weights and activations, float32 inputs/outputs", "calibration_images": os.path.abspath(a.images)}
        try:
            extra["agreement_with_fp32_cpu"] = agreement(src, path, x[:64], spec["name"], map_name)
        except Exception as err:  # the CPU provider lacks float16 kernels for some ops: check it on the GPU
            extra["agreement_with_fp32_cpu"] = f"not checked on the CPU provider: {str(err).splitlines()[0][:200]}"
        if a.bench and suffix == "int8":
            extra["cpu_ms_per_tile"] = {f"{t}_threads": {"fp32": round(cpu_ms_per_tile(src, x, spec["name"], t), 2), "int8": round(cpu_ms_per_tile(path, x, spec["name"], t), 2)} for t in (1, 2)}
        write_variant(d, manifest, suffix, src, extra)
        report[suffix] = {"dir": d, "bytes": os.path.getsize(path), **extra}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
