"""Check an exported model folder against the daemon's contract (src/modelManifest.ts).

Why: CI and the export step must fail loudly when model.json and model.onnx disagree,
before the daemon refuses to start. Checks: manifest keys and types (mirroring the zod
schema, unknown keys rejected), onnx.checker, input/output names and shapes, the 10 MB
size limit, and, when node + onnxruntime-node are available, that onnxruntime reproduces
the self-test values export.py recorded with torch (batch 1 and 2: dynamic batch works).

  /usr/bin/python3 training/check_model.py models/magtile-student [--max-mb 10] [--no-ort]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx

KEYS = {
    "": {"format", "name", "version", "input", "outputs", "calibration", "threshold", "provenance"},
    "input": {"name", "layout", "channels", "height", "width", "dynamic_batch", "scale", "mean", "std"},
    "outputs": {"map", "score"},
    "calibration": {"offset", "scale"},
    "threshold": {"image", "pixel"},
}


def fail(msg):
    print(f"check_model: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_manifest(man):
    for sec, keys in KEYS.items():
        obj = man if not sec else man.get(sec)
        if not isinstance(obj, dict):
            fail(f"{sec} missing or not an object")
        # "features" (patch features for the few-shot memory bank) is optional
        if set(obj) - ({"features"} if sec == "outputs" else set()) != keys:
            fail(f"{sec or 'manifest'} keys {sorted(obj)} != {sorted(keys)}")
    if man["format"] != "linewatch-model/1":
        fail("format must be linewatch-model/1")
    i = man["input"]
    if i["layout"] != "NCHW" or i["channels"] not in (1, 3) or min(i["height"], i["width"]) < 8:
        fail(f"bad input {i}")
    if len(i["mean"]) != i["channels"] or len(i["std"]) != i["channels"] or i["scale"] <= 0:
        fail("mean/std/scale do not fit the channels")
    if man["calibration"]["scale"] <= 0:
        fail("calibration.scale must be > 0")
    for k in ("image", "pixel"):
        if not isinstance(man["threshold"][k], (int, float)):
            fail(f"threshold.{k} not a number")


def check_onnx(d, man, max_mb):
    path = os.path.join(d, "model.onnx")
    mb = os.path.getsize(path) / 1e6
    if mb > max_mb:
        fail(f"model.onnx is {mb:.2f} MB > {max_mb} MB")
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ins = {v.name: v for v in m.graph.input}
    outs = {v.name: v for v in m.graph.output}
    i = man["input"]
    if i["name"] not in ins:
        fail(f"input {i['name']} not in ONNX inputs {list(ins)}")
    dims = ins[i["name"]].type.tensor_type.shape.dim
    shape = [x.dim_param or x.dim_value for x in dims]
    if shape[1:] != [i["channels"], i["height"], i["width"]] or (i["dynamic_batch"] and not dims[0].dim_param):
        fail(f"ONNX input shape {shape} does not match the manifest")
    for k in ("map", "score", "features"):
        if man["outputs"].get(k) is not None and man["outputs"][k] not in outs:
            fail(f"output {man['outputs'][k]} not in ONNX outputs {list(outs)}")
    return mb


def check_ort(d, man):
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["node", os.path.join(here, "ort_run.mjs"), os.path.abspath(d)], cwd=os.path.dirname(here),
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"onnxruntime-node could not run the model: {r.stderr.strip()[-500:]}")
    got = json.loads(r.stdout)
    ref = man["provenance"].get("selftest")
    if not ref:
        fail("provenance.selftest missing")
    for n in (1, 2):
        st = got[f"batch{n}"]["stats"]
        if len(st) != n or got[f"batch{n}"]["dims"][:2] != [n, 1]:
            fail(f"batch {n}: output dims {got[f'batch{n}']['dims']}")
        for b in range(n):
            for k in ("mean", "max"):
                if not np.isclose(st[b][k], ref[k][b], rtol=1e-3, atol=1e-3):
                    fail(f"onnxruntime {k} {st[b][k]} != torch {ref[k][b]} (batch {n}, item {b})")
    return got["batch2"]["dims"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--max-mb", type=float, default=10.0)
    p.add_argument("--no-ort", action="store_true", help="skip the onnxruntime-node run")
    a = p.parse_args()
    man = json.load(open(os.path.join(a.model_dir, "model.json")))
    check_manifest(man)
    mb = check_onnx(a.model_dir, man, a.max_mb)
    dims = None if a.no_ort else check_ort(a.model_dir, man)
    print(f"check_model: OK {a.model_dir} ({mb:.2f} MB, onnxruntime output dims {dims})")


if __name__ == "__main__":
    main()
