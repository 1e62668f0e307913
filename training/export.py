"""Export a trained checkpoint to the daemon's contract: model.onnx + model.json.

Why: the daemon (src/modelManifest.ts, format "linewatch-model/1") needs the ONNX plus
its normalisation, output names, calibration and thresholds. Calibration uses only the
held-back normal images recorded in the checkpoint, never test data:
  offset = median normal map value, scale = 99.9th percentile - offset,
  threshold.image = 99th percentile of normal image scores (max of calibrated map),
  threshold.pixel = the same value, so a part that passes shows an empty defect mask.

  /usr/bin/python3 training/export.py --ckpt models/magtile-student/student.pt \
      --data shared/datasets/magnetic-tile/train/good --out models/magtile-student

--features LAYER (a student tap: f2, f3, f4, f5, d3, d2) adds a second ONNX output "features",
that layer's map L2-normalised per position, for the daemon's few-shot memory bank; the
"anomaly_map" output is the same as without it. Without the flag the export is as before.
--version and --provenance-from OLD/model.json re-export a shipped model: the old manifest's
provenance is kept (under the new facts) and the re-export's own command is recorded.
"""
import argparse
import json
import os
import platform
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_rgb, to_tensor_batch, whole_view  # noqa: E402
from nets import Exported, Student, count_flops  # noqa: E402

INPUT, MAP, FEATURES = "image", "anomaly_map", "features"


def map_of(out):
    """The anomaly map of the exported module's output (a tuple when it has features too)."""
    return out[0] if isinstance(out, tuple) else out


def build(ckpt, features=None):
    """The exportable module (net + fixed blur, + a features output when named) for a checkpoint dict."""
    kind = ckpt.get("kind", "student")
    if kind == "student":
        net = Student(ckpt["width"])
    else:
        from teachers import build_teacher
        net = build_teacher(ckpt)
    net.load_state_dict(ckpt["state"])
    if features and not hasattr(net, "taps"):
        raise SystemExit(f"--features: a {kind} network has no named feature maps")
    return Exported(net, features=features).eval()


def calib_views(im, size):
    """Whole image plus flips: four deterministic views per held-back image."""
    v = whole_view(im, size)
    return [v, v[:, ::-1].copy(), v[::-1].copy(), v[::-1, ::-1].copy()]


def raw_maps(model, arrs, mean, std, bs=16):
    """Raw (uncalibrated) exported maps [N,h,w] for HxWx3 [0,1] arrays."""
    out = []
    with torch.no_grad():
        for i in range(0, len(arrs), bs):
            x = torch.from_numpy(to_tensor_batch(arrs[i:i + bs], mean, std))
            out.append(map_of(model(x))[:, 0].numpy())
    return np.concatenate(out)


def calibrate(model, hold_paths, size, mean, std, image_q=0.99):
    """Calibration constants and thresholds from held-back normal images."""
    views, owner = [], []
    for k, p in enumerate(hold_paths):
        vs = calib_views(load_rgb(p), size)
        views += vs
        owner += [k] * len(vs)
    maps = raw_maps(model, views, mean, std)
    offset = float(np.median(maps))
    scale = float(max(np.quantile(maps, 0.999) - offset, 1e-6))
    cal = (maps - offset) / scale
    per_view = cal.reshape(len(cal), -1).max(1)
    per_img = np.array([per_view[np.array(owner) == k].max() for k in range(len(hold_paths))])
    th = float(np.quantile(per_view, image_q))
    return {"offset": offset, "scale": scale}, {"image": round(th, 4), "pixel": round(th, 4)}, {
        "holdout_images": len(hold_paths), "holdout_views": len(views),
        "holdout_view_false_alarm_rate": float((per_view >= th).mean()),
        "holdout_image_false_alarm_rate_any_flip": float((per_img >= th).mean()),
        "holdout_pixel_rate_above_pixel_threshold": float((cal >= th).mean())}


def selftest(model, size):
    """Raw-map mean/max on a fixed pattern (batch 2); check_model.py compares onnxruntime to it."""
    i = torch.arange(size, dtype=torch.float32)
    x = torch.stack([torch.stack([torch.sin(0.1 * i[:, None] + b + c) * torch.cos(0.07 * i[None, :])
                                  for c in range(3)]) for b in range(2)])
    with torch.no_grad():
        out = model(x)
    y = map_of(out)[:, 0]
    t = {"input": "x[n,c,i,j] = sin(0.1 i + n + c) * cos(0.07 j), batch 2", "output_shape": list(map_of(out).shape),
         "mean": [float(v) for v in y.mean((1, 2))], "max": [float(v) for v in y.amax((1, 2))]}
    if isinstance(out, tuple):
        t["features_shape"] = list(out[1].shape)
        t["features_mean"] = [float(v) for v in out[1].mean((1, 2, 3))]
    return t


def export_onnx(model, path, size):
    x = torch.zeros(2, 3, size, size)
    names = [MAP, FEATURES] if model.features else [MAP]
    torch.onnx.export(model, x, path, input_names=[INPUT], output_names=names, opset_version=13,
                      dynamic_axes={INPUT: {0: "batch"}, **{n: {0: "batch"} for n in names}}, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def export_checkpoint(ckpt_path, out, data, name=None, extra=None, features=None, version=None, provenance_from=None):
    """Write out/model.onnx and out/model.json from a checkpoint; returns the manifest."""
    ckpt = torch.load(ckpt_path, map_location="cpu")
    model = build(ckpt, features)
    old = None
    if provenance_from:  # read before writing: it may be out/model.json itself
        with open(provenance_from) as f:
            old = json.load(f)
    size, mean, std = ckpt["size"], ckpt["mean"], ckpt["std"]
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    export_onnx(model, onnx_path, size)
    hold_paths = [os.path.join(data, n) for n in ckpt["holdout"]]
    calib, thresholds, cal_stats = calibrate(model, hold_paths, size, mean, std)
    args = ckpt["args"]
    manifest = {
        "format": "linewatch-model/1",
        "name": name or os.path.basename(os.path.abspath(out)),
        "version": version or ckpt.get("version", "0.1.0"),
        "input": {"name": INPUT, "layout": "NCHW", "channels": 3, "height": size, "width": size,
                  "dynamic_batch": True, "scale": 255, "mean": mean, "std": std},
        "outputs": {"map": MAP, "score": None, **({"features": FEATURES} if features else {})},
        "calibration": calib,
        "threshold": thresholds,
        "provenance": {
            "data": os.path.relpath(os.path.abspath(data), _repo_root()) if _in_repo(data) else data,
            "train_images": ckpt["train_images"], "holdout_images": len(hold_paths),
            "holdout_files": ckpt["holdout"],
            "teacher": ckpt.get("teacher", "none (synthetic-anomaly masks only)"),
            "architecture": ckpt.get("architecture", f"Student U-Net width {ckpt.get('width')}"),
            "gflops_per_image": round(count_flops(model.net, size) / 1e9, 3),
            "map_resolution": "1/4 of input, Gaussian-smoothed (sigma 1 map px) in the graph",
            "seed": args["seed"], "command": ckpt["command"], "train_seconds": ckpt["train_seconds"],
            "device": ckpt.get("device", "cpu"), "train_torch": ckpt.get("torch", "see note"),
            "steps": args.get("steps"), "batch": args.get("batch"),
            "python": platform.python_version(), "torch": torch.__version__ + " (export)", "onnx_opset": 13,
            "selftest": selftest(model, size),
            "metrics": {"validation (held-back train/good + synthetic anomalies)": ckpt.get("kept_val") or ckpt["best_val"],
                        "calibration (held-back train/good, whole image + flips)": cal_stats},
        },
    }
    chain = init_chain(args.get("init"))
    if chain:  # fine-tuned: record every run it continued from
        manifest["provenance"]["init_from"] = chain
        manifest["provenance"]["train_seconds_total"] = round(
            ckpt["train_seconds"] + sum(c.get("train_seconds", 0) for c in chain), 1)
    if features:
        manifest["provenance"]["features"] = (
            f"student tap {features} ({tuple(model.net.taps(torch.zeros(1, 3, size, size))[features].shape[1:])} "
            f"for a {size}px input), L2-normalised per position; the tap given to --features (training/feature_probe.py compares taps)")
    if old:
        prov = manifest["provenance"]
        for k, v in old["provenance"].items():
            if k == "metrics":
                prov["metrics"] = {**v, **prov["metrics"]}
            elif k not in prov or k in ("note", "train_torch", "device", "command", "train_seconds"):
                prov[k] = v
        prov["previous_version"] = {"version": old["version"], "export": old["provenance"].get("export_command", "training/export.py without --features")}
    if extra:
        manifest["provenance"].update(extra)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    mb = os.path.getsize(onnx_path) / 1e6
    print(f"exported {onnx_path} ({mb:.2f} MB), thresholds {thresholds}, calibration {calib}", flush=True)
    return manifest


def init_chain(path):
    """[{checkpoint, command, train_seconds, device}] of the runs a checkpoint was fine-tuned from."""
    out = []
    while path:
        cands = [path, os.path.join(os.path.dirname(os.path.abspath(__file__)), path)]
        found = next((c for c in cands if os.path.exists(c)), None)
        if not found:
            out.append({"checkpoint": path, "note": "not found at export time"})
            break
        prev = torch.load(found, map_location="cpu")
        out.append({"checkpoint": path, "command": prev["command"], "train_seconds": prev["train_seconds"],
                    "device": prev.get("device", "cpu"), "teacher": prev.get("teacher")})
        if "rebuilt_from" in prev:  # from_onnx.py: the runs before it are in the manifest it read
            out[-1]["rebuilt_from"] = prev["rebuilt_from"]
            out.extend(prev.get("earlier_runs", []))
        path = prev["args"].get("init")
    return out


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _in_repo(p):
    return os.path.abspath(p).startswith(os.path.dirname(_repo_root()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--data", required=True, help="the training folder (holdout files are read from it)")
    p.add_argument("--out", required=True)
    p.add_argument("--name", default=None)
    p.add_argument("--features", default=None, help="student tap to export as a second output 'features' (e.g. f3)")
    p.add_argument("--version", default=None, help="manifest version (default: the checkpoint's, or 0.1.0)")
    p.add_argument("--provenance-from", default=None, help="an earlier model.json of this checkpoint whose provenance is kept")
    a = p.parse_args()
    torch.set_num_threads(2)
    export_checkpoint(a.ckpt, a.out, a.data, a.name, extra={"export_command": "/usr/bin/python3 " + " ".join(sys.argv)},
                      features=a.features, version=a.version, provenance_from=a.provenance_from)


if __name__ == "__main__":
    main()
