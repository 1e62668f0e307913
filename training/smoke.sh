#!/usr/bin/env bash
# CI smoke test of the training toolchain (< 2 min on 2 cores, no network, no shared/ data):
# makes 8 procedural images (mixed sizes, gray and colour) and a tiny MVTec-layout test set,
# then: student training + export, determinism (same seed -> same weights), a checkpoint rebuilt
# from the export and trained on (from_onnx.py), a generic model on
# generated surfaces with a features output, feature-bank
# teacher (random backbone), distillation from it, distillation from files beside the
# images, INT8/FP16 variants (quantize.py), the python evaluation, and the held-out defect
# families with proxy_check.py. Every exported model goes through check_model.py
# (manifest keys as src/modelManifest.ts, onnx.checker, onnxruntime-node when present).
# Exits non-zero on the first failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export PYTHONWARNINGS=ignore
ort=""
if ! node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then
  (cd "$here/.." && node -e "require.resolve('onnxruntime-node')" 2>/dev/null) || ort="--no-ort"
fi
[ -n "$ort" ] && echo "smoke: onnxruntime-node not found, ONNX run check skipped"

$py - "$tmp" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root = sys.argv[1]
rng = np.random.RandomState(0)
def make(path, w, h, gray, defect=False):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.2 * np.sin(xx / rng.uniform(3, 9)) + 0.05 * rng.randn(h, w)
    m = np.zeros((h, w), bool)
    if defect:
        m[h // 3:h // 3 + 12, w // 2:w // 2 + 12] = True
        base[m] = 0.05
    img = np.clip(base, 0, 1) * 255
    im = Image.fromarray(img.astype(np.uint8))
    (im if gray else im.convert("RGB")).save(path)
    return m
for d in ("train/good", "test/good", "test/hole", "ground_truth/hole"):
    os.makedirs(os.path.join(root, "ds", d), exist_ok=True)
for i in range(8):
    make(f"{root}/ds/train/good/{i:02d}.png", rng.randint(90, 300), rng.randint(90, 300), i % 3 != 0)
    np.save(f"{root}/ds/train/good/{i:02d}.npy", rng.rand(20, 20).astype(np.float32))
for i in range(2):
    make(f"{root}/ds/test/good/{i}.png", 160, 120, True)
    m = make(f"{root}/ds/test/hole/{i}.png", 160, 120, True, defect=True)
    Image.fromarray((m * 255).astype(np.uint8)).save(f"{root}/ds/ground_truth/hole/{i}_mask.png")
PY
data="$tmp/ds/train/good"
common=(--data "$data" --steps 4 --batch 2 --size 96 --val-every 2 --threads 2)

echo "smoke: student (synthetic masks only)"
$py "$here/train.py" "${common[@]}" --out "$tmp/s1" --seed 3
$py "$here/check_model.py" "$tmp/s1" $ort
$py "$here/train.py" "${common[@]}" --out "$tmp/s2" --seed 3 --no-export --workers 2
$py - "$tmp/s1/student.pt" "$tmp/s2/student.pt" <<'PY'
import sys, torch
a, b = (torch.load(p)["state"] for p in sys.argv[1:3])
bad = [k for k in a if not torch.equal(a[k], b[k])]
if bad:
    sys.exit(f"smoke: same seed gave different weights: {bad[:3]}")
print("smoke: same seed -> identical weights (0 and 2 loader workers)")
PY

echo "smoke: a trainable checkpoint rebuilt from the export (from_onnx.py), trained on"
$py "$here/from_onnx.py" --model "$tmp/s1" --data "$data" --out "$tmp/rb/student.pt" --views 8
$py "$here/train.py" "${common[@]}" --out "$tmp/ft" --seed 4 --holdout-seed 3 --init "$tmp/rb/student.pt" --line-share 0.5 --keep last
$py - "$tmp/ft/student.pt" "$tmp/ft/model.json" <<'PY'
import json, sys, torch
c = torch.load(sys.argv[1])
m = json.load(open(sys.argv[2]))["provenance"]["metrics"]["validation (held-back train/good + synthetic anomalies)"]
if c["kept_val"]["step"] != 4 or m["step"] != 4:
    sys.exit(f"smoke: --keep last kept step {c['kept_val']['step']} (manifest {m['step']}), not the last (4)")
print("smoke: --keep last saved and exported the last step's weights")
PY
$py "$here/check_model.py" "$tmp/ft" $ort

if [ -z "$ort" ]; then
  echo "smoke: INT8 (QDQ) and FP16 variants"
  $py "$here/quantize.py" --model "$tmp/s1" --images "$data" --out "$tmp/q" --tiles 16 > "$tmp/q.log"
  for v in "$tmp"/q/*-int8 "$tmp"/q/*-fp16; do $py "$here/check_model.py" "$v" $ort; done
  $py - "$tmp/q.log" <<'PY'
import json, sys
r = {k: v for line in open(sys.argv[1]) if line.startswith("{") for k, v in json.loads(line).items()}
assert set(r) == {"int8", "fp16"}, r
assert r["fp16"]["agreement"]["map"]["pearson_r"] > 0.999, r["fp16"]["agreement"]
print("smoke: variants agree with float32 at r", {k: v["agreement"]["map"]["pearson_r"] for k, v in r.items()})
PY
fi

echo "smoke: generic model on generated surfaces (no image file), with a features output"
$py "$here/train.py" --procedural 12 --holdout 0.5 --steps 4 --batch 2 --size 96 --val-every 2 --threads 2 --out "$tmp/g" --seed 3 --features f3
$py "$here/check_model.py" "$tmp/g" $ort
$py -c "import json,sys; m=json.load(open(sys.argv[1])); assert m['outputs'].get('features') == 'features', m['outputs']" "$tmp/g/model.json"

echo "smoke: feature-bank teacher (random backbone) and distillation from it"
$py "$here/train_teacher.py" --data "$data" --out "$tmp/t" --weights none --bank 64 --size 96 --per-view 32
$py "$here/check_model.py" "$tmp/t" $ort
$py "$here/train.py" "${common[@]}" --out "$tmp/d" --teacher "bank:$tmp/t/teacher.pt"
$py "$here/check_model.py" "$tmp/d" $ort

echo "smoke: distillation from an own (wider) segmentation teacher"
$py "$here/train.py" "${common[@]}" --out "$tmp/w" --width 0.5 --teacher "model:$tmp/s1/student.pt"
$py "$here/check_model.py" "$tmp/w" $ort

echo "smoke: several widths on the same batches (--also), continued per width (--init A,B), one exported"
$py "$here/train.py" "${common[@]}" --out "$tmp/m" --seed 3 --also 0.5 --no-export
$py "$here/train.py" "${common[@]}" --out "$tmp/m2" --seed 4 --holdout-seed 3 --also 0.5 --no-export \
    --init "$tmp/m/student.pt,$tmp/m/w0.5/student.pt"
$py - "$tmp/m" "$tmp/m2" <<'PY'
import sys, torch
a, b = (torch.load(f"{d}/w0.5/student.pt") for d in sys.argv[1:3])
assert a["width"] == b["width"] == 0.5 and b["args"]["init"].endswith("m/w0.5/student.pt"), b["args"]["init"]
assert a["holdout"] == b["holdout"], "--holdout-seed must keep the held-back split across stages"
print("smoke: --also / --init per width / --holdout-seed ok")
PY
$py "$here/train.py" --export-only --out "$tmp/m2/w0.5" --data "$data"
$py "$here/check_model.py" "$tmp/m2/w0.5" $ort
$py "$here/test_train.py"

echo "smoke: distillation from precomputed maps beside the images"
$py "$here/train.py" "${common[@]}" --out "$tmp/f" --teacher files
$py "$here/check_model.py" "$tmp/f" $ort

echo "smoke: metrics and python evaluation"
$py "$here/test_metrics.py"
$py "$here/evaluate.py" --run "$tmp/s1" --dataset "$tmp/ds" > "$tmp/eval.json"
$py -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['images']==4 and 'hole' in r['per_type'], r" "$tmp/eval.json"

echo "smoke: held-out defect families and the proxy check (export and checkpoint score alike)"
$py "$here/test_line_defects.py"
$py "$here/proxy_check.py" --data "$data" --holdout-seed 3 --size 96 --json "$tmp/proxy.json" "$tmp/s1" "$tmp/s1/student.pt"
$py - "$tmp/proxy.json" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1]))
for k in ("val_select", "aupro"):
    assert abs(a["synth"][k] - b["synth"][k]) < 1e-3, (k, a["synth"][k], b["synth"][k])
assert abs(a["families"]["all"]["aupro"] - b["families"]["all"]["aupro"]) < 1e-3, (a["families"], b["families"])
print("smoke: proxy_check reads a model folder as its checkpoint")
PY
echo "smoke: OK"
