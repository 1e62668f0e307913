#!/usr/bin/env python3
"""Export an INT8 (QDQ) variant of a linewatch model for CPUs and an FP16 one for GPUs.

    /usr/bin/python3 training/quantize.py --model models/magtile-student --images DIR [--out DIR]

Needs only Debian 12's python3-onnx, numpy and PIL, and node with the repo's onnxruntime-node
(training/ort_tensors.mjs runs the models; Python has no onnxruntime here). Graph rewrites: qdq.py.

- Images: the held-back normal images named in the source manifest (provenance.holdout_files) are
  kept for checking; the other images of `--images` give the calibration tiles, cut as the daemon
  cuts them (the whole image resized to the input, and grid-like crops resized down: see
  daemon_tiles), normalised with the manifest's mean/std.
- INT8: static QDQ, per-channel int8 weights, uint8 activations whose ranges (min/max) come from
  running the float32 model on the calibration tiles. Weights use 7 bits (+-63) by default: on x86
  CPUs without VNNI (AVX2, most AVX-512) ONNX Runtime's u8 x s8 kernel sums pairs of products in
  int16 with saturation, and full 8-bit weights overflowed it (magtile-student: Pearson r with
  float32 0.78 at 8 bits, 0.99 at 7 bits, on a 2-core AMD EPYC with AVX2).
- FP16: float16 weights and activations, float32 input and outputs, so the manifest and the
  daemon's feeding code do not change. Meant for GPUs; the CPU provider runs it through casts.
- Checks, on the held-back images only: agreement of each variant's outputs with float32 (max and
  mean absolute difference, raw and in calibrated units, Pearson r) on their tiles; the false-alarm
  rate on their views (whole image and its flips, as export.py calibrates) at the copied
  thresholds. With --recalibrate auto (default) a variant whose rate differs from float32's gets
  its own calibration and thresholds by export.py's recipe on those views; both are recorded.

Each variant goes to OUT/<name>-int8/ and OUT/<name>-fp16/: model.onnx and a copy of model.json
whose version gains "+int8"/"+fp16" and whose provenance.variant records the source and its
sha256, this command, and the figures above. Run `linewatch eval` on each before shipping it.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb  # noqa: E402
from qdq import plan_int8, to_fp16, to_qdq, with_outputs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def normalise(arrs, spec):
    """HxWx3 [0,1] arrays -> NCHW float32 with the manifest's mean/std (gray: channel mean)."""
    x = (np.stack(arrs).astype(np.float32) - np.float32(spec["mean"])) / np.float32(spec["std"])
    x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x.mean(1, keepdims=True) if spec["channels"] == 1 else x, np.float32)


def daemon_tiles(path, spec):
    """Inputs cut from one image as the daemon cuts them: the whole image resized to the input
    (resize mode), and three grid-like crops (two corners, the centre) of twice the input's side,
    or of the image's shorter side where that is smaller, resized to the input (grid mode)."""
    img, h, w = load_rgb(path), spec["height"], spec["width"]
    out = [img.resize((w, h), Image.BILINEAR)]
    side = min(2 * max(h, w), img.width, img.height)
    if side >= max(h, w):
        for x, y in [(0, 0), (img.width - side, img.height - side), ((img.width - side) // 2, (img.height - side) // 2)]:
            out.append(img.crop((x, y, x + side, y + side)).resize((w, h), Image.BILINEAR))
    return [np.asarray(t, np.float32) / spec["scale"] for t in out]


def flip_views(path, spec):
    """The whole image resized, and its flips: the views export.py calibrates thresholds on."""
    v = np.asarray(load_rgb(path).resize((spec["width"], spec["height"]), Image.BILINEAR), np.float32) / spec["scale"]
    return [v, v[:, ::-1], v[::-1], v[::-1, ::-1]]


def ort(model_path, x, spec, mode, outputs, threads, batch=8):
    """Runs a model under onnxruntime-node (ort_tensors.mjs): ranges, or outputs as arrays."""
    with tempfile.TemporaryDirectory() as tmp:
        x.tofile(os.path.join(tmp, "x.bin"))
        job = {"model": os.path.abspath(model_path), "input": {"name": spec["name"], "file": os.path.join(tmp, "x.bin"), "dims": list(x.shape)},
               "batch": batch, "threads": threads, "mode": mode, "outputs": outputs, "out_dir": tmp}
        with open(os.path.join(tmp, "job.json"), "w") as f:
            json.dump(job, f)
        p = subprocess.run(["node", os.path.join(HERE, "ort_tensors.mjs"), os.path.join(tmp, "job.json")],
                           capture_output=True, text=True, cwd=os.path.dirname(HERE))
        if p.returncode:
            sys.exit(f"onnxruntime-node failed on {model_path}:\n{p.stderr}")
        res = json.loads(p.stdout)
        if mode == "ranges":
            return res
        return {k: np.fromfile(v["file"], np.float32).reshape(v["dims"]) for k, v in res.items()}


def selftest(path, spec, map_name, threads):
    """export.py's self-test (raw map mean/max on a fixed pattern, batch 2) of this ONNX."""
    i = np.arange(spec["height"], dtype=np.float32)
    j = np.arange(spec["width"], dtype=np.float32)
    x = np.stack([np.stack([np.sin(0.1 * i[:, None] + b + c) * np.cos(0.07 * j[None, :]) for c in range(spec["channels"])])
                  for b in range(2)]).astype(np.float32)
    y = ort(path, x, spec, "run", [map_name], threads)[map_name][:, 0]
    return {"input": "x[n,c,i,j] = sin(0.1 i + n + c) * cos(0.07 j), batch 2", "output_shape": [2, 1, *y.shape[1:]],
            "mean": [float(v) for v in y.mean((1, 2))], "max": [float(v) for v in y.max((1, 2))]}


def agreement(ref, var, scale=None):
    """Differences of a variant's output from float32's; with `scale`, also in calibrated units."""
    d = np.abs(ref - var)
    out = {"max_abs_diff": round(float(d.max()), 4), "mean_abs_diff": round(float(d.mean()), 5)}
    if scale:
        out.update({"max_abs_diff_calibrated": round(float(d.max() / scale), 4), "mean_abs_diff_calibrated": round(float(d.mean() / scale), 5)})
    return {**out, "pearson_r": round(float(np.corrcoef(ref.ravel(), var.ravel())[0, 1]), 6)}


def false_alarms(maps, calib, th):
    """Share of views whose max calibrated map value reaches the image threshold."""
    per_view = ((maps - calib["offset"]) / calib["scale"]).reshape(len(maps), -1).max(1)
    return float((per_view >= th).mean())


def recalibrate(maps, owner, image_q=0.99):
    """export.py's recipe on a variant's own maps of the held-back views."""
    offset = float(np.median(maps))
    scale = float(max(np.quantile(maps, 0.999) - offset, 1e-6))
    per_view = ((maps - offset) / scale).reshape(len(maps), -1).max(1)
    th = float(np.quantile(per_view, image_q))
    per_img = np.array([per_view[owner == k].max() for k in np.unique(owner)])
    return {"offset": offset, "scale": scale}, {"image": round(th, 4), "pixel": round(th, 4)}, {
        "holdout_view_false_alarm_rate": float((per_view >= th).mean()),
        "holdout_image_false_alarm_rate_any_flip": float((per_img >= th).mean())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="folder with model.onnx and model.json")
    ap.add_argument("--images", required=True, help="folder of good images (the model's train/good)")
    ap.add_argument("--out", default="models", help="parent folder of the variants' folders")
    ap.add_argument("--tiles", type=int, default=256, help="calibration tiles")
    ap.add_argument("--weight-bits", type=int, choices=(7, 8), default=7,
                    help="int8 weight range: 7 = +-63 (default; no int16 saturation on any x86 CPU) or 8 = +-127 (saturates on CPUs without VNNI)")
    ap.add_argument("--recalibrate", choices=("auto", "always", "never"), default="auto")
    ap.add_argument("--float-first", action=argparse.BooleanOptionalAction, default=True,
                    help="keep the Conv(s) reading the image in float (default; 0.4.0: map r 0.968 -> 0.987)")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    a = ap.parse_args()

    manifest = json.load(open(os.path.join(a.model, "model.json")))
    spec, name, map_name = manifest["input"], manifest["name"], manifest["outputs"]["map"]
    src = os.path.join(a.model, "model.onnx")
    src_sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
    files = list_images(a.images)
    held = set(manifest.get("provenance", {}).get("holdout_files", []))
    hold = [f for f in files if os.path.basename(f) in held]
    if not hold:
        sys.exit("the source manifest names no held-back images in --images (provenance.holdout_files)")
    cal_files = [f for f in files if os.path.basename(f) not in held]
    cal, used = [], 0
    for i in np.random.RandomState(0).permutation(len(cal_files)):  # spread over the whole folder
        if len(cal) >= a.tiles:
            break
        cal += daemon_tiles(cal_files[i], spec)
        used += 1
    x_cal = normalise(cal[: a.tiles], spec)
    print(f"calibration: {len(x_cal)} tiles from {used} images; checks on {len(hold)} held-back images", flush=True)

    model = onnx.load(src)
    plan = plan_int8(model, float_first=a.float_first)
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.onnx")
        inner = [t for t in plan["tensors"] if t != spec["name"]]
        onnx.save(with_outputs(model, inner), probe)
        ranges = {**ort(probe, x_cal, spec, "ranges", inner, a.threads), spec["name"]: (float(x_cal.min()), float(x_cal.max()))}
    int8 = to_qdq(model, plan, ranges, weight_max=127 if a.weight_bits == 8 else 63)
    fp16 = to_fp16(model)
    variants = {"int8": int8, "fp16": fp16}
    methods = {
        "int8": f"static QDQ (training/qdq.py): {len(plan['convs'])} Convs with per-channel {a.weight_bits}-bit weights, int32 biases, "
                f"uint8 activations (min/max over {len(x_cal)} calibration tiles), {len(plan['relu'])} Relus folded into their Conv's range; "
                "Resize, Add and Concat between them uint8; " + ("the Conv reading the image, " if a.float_first else "") +
                "single-channel Convs (map head, blur) and the rest float",
        "fp16": "float16 initializers and activations, Casts at the float32 input and outputs (training/qdq.py)"}

    views, owner = [], []
    for k, f in enumerate(hold):
        views += flip_views(f, spec)
        owner += [k] * 4
    owner, nv = np.array(owner), len(views)
    # held-back inputs: the flip views (thresholds), then the crops (agreement on grid-mode tiles)
    x_hold = normalise(views + [t for f in hold for t in daemon_tiles(f, spec)[1:]], spec)
    outs = [o.name for o in model.graph.output]
    ref = ort(src, x_hold, spec, "run", outs, a.threads)
    ref_views = ref[map_name][:nv]
    th = manifest["threshold"]["image"]
    ref_fa = false_alarms(ref_views, manifest["calibration"], th)
    command = "/usr/bin/python3 " + " ".join(sys.argv)
    report = {}
    for suffix, m in variants.items():
        onnx.checker.check_model(m)
        d = os.path.join(a.out, f"{name}-{suffix}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        onnx.save(m, path)
        var = ort(path, x_hold, spec, "run", outs, a.threads)
        var_views = var[map_name][:nv]
        agree = {"held_back_images": len(hold), "tiles": int(len(x_hold)),
                 "map": agreement(ref[map_name], var[map_name], manifest["calibration"]["scale"])}
        for o in outs:
            if o != map_name:
                agree[o] = agreement(ref[o], var[o])
        var_fa = false_alarms(var_views, manifest["calibration"], th)
        out_m = json.loads(json.dumps(manifest))
        out_m["version"] = f"{manifest['version']}+{suffix}"
        check = {"views": nv, "float32_view_false_alarm_rate": ref_fa, "variant_view_false_alarm_rate_at_copied_threshold": var_fa}
        if a.recalibrate == "always" or (a.recalibrate == "auto" and var_fa != ref_fa):
            calib, thresholds, stats = recalibrate(var_views, owner)
            check.update({"recalibrated": True, "copied_calibration": manifest["calibration"], "copied_threshold": manifest["threshold"], **stats})
            out_m["calibration"], out_m["threshold"] = calib, thresholds
        else:
            check["recalibrated"] = False
        out_m["provenance"]["variant"] = {
            "of": f"{manifest['name']} {manifest['version']}", "source": os.path.relpath(src), "source_sha256": src_sha,
            "command": command, "method": methods[suffix],
            "note": "provenance.metrics describe the float32 source; provenance.selftest is this variant's own",
            "source_selftest": manifest.get("provenance", {}).get("selftest"),
            "calibration_images": f"{os.path.relpath(a.images)} without the held-back images ({len(cal_files)})",
            "agreement_with_float32 (held-back images, onnxruntime-node CPU)": agree,
            "thresholds (held-back views, whole image + flips)": check}
        out_m["provenance"]["selftest"] = selftest(path, spec, map_name, a.threads)
        with open(os.path.join(d, "model.json"), "w") as f:
            json.dump(out_m, f, indent=2)
            f.write("\n")
        report[suffix] = {"dir": d, "bytes": os.path.getsize(path), "agreement": agree, "thresholds": check}
        print(json.dumps({suffix: report[suffix]}), flush=True)


if __name__ == "__main__":
    main()
