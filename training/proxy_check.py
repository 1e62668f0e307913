"""Score models on the held-back normal images with two kinds of synthetic defect.

Why: a validation is only worth selecting checkpoints with if it ranks models the way real
defects do. This prints, per model, the training-time validation (synth.py's defects, the
families the student trains on) and the held-out families of line_defects.py (never trained
on), per family and as a mean (image AUROC, pixel AP, AUPRO), so both can be set beside each model's measured test numbers.

  /usr/bin/python3 training/proxy_check.py --data ../shared/datasets/magnetic-tile/train/good \\
      --holdout-seed 0 models/magtile-student training/runs/s22/ft2/student.pt

A model is a folder (model.onnx + model.json of a Student export: its convolutions with the
batch norms folded in, exact in eval mode) or a train.py checkpoint (student.pt).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, split_holdout, to_tensor_batch  # noqa: E402
from from_onnx import load_folded, width_of  # noqa: E402
from line_defects import FAMILIES, line_valset  # noqa: E402
from metrics import aupro, auroc, average_precision  # noqa: E402
from nets import Student  # noqa: E402
from train import MEAN, STD, make_valset, predict, val_metrics  # noqa: E402


def load_model(path):
    """(net in eval mode, mean, std, label) from a model folder or a student.pt."""
    if os.path.isdir(path):
        manifest = json.load(open(os.path.join(path, "model.json")))
        net = Student(width_of(manifest))
        load_folded(net, onnx.load(os.path.join(path, "model.onnx")).graph)
        inp = manifest["input"]
        return net.eval(), inp["mean"], inp["std"], f"{manifest['name']} {manifest['version']}"
    ck = torch.load(path, map_location="cpu", weights_only=False)
    net = Student(ck["width"])
    net.load_state_dict(ck["state"])
    return net.eval(), ck.get("mean", MEAN), ck.get("std", STD), path


def pro_of(maps, masks, keep):
    """AUPRO over the kept views (clean views give the normal pixels), at half resolution."""
    return aupro([maps[i, ::2, ::2] for i in np.flatnonzero(keep)], [masks[i, ::2, ::2] for i in np.flatnonzero(keep)])


def line_scores(net, val, size, mean, std):
    """Per held-out family: image AUROC (its views against the clean ones), pixel AP, AUPRO."""
    views, masks, labels, fams = val
    maps = predict(net, to_tensor_batch(views, mean, std), size)
    score = maps.reshape(len(maps), -1).max(1)
    out = {}
    for f in FAMILIES:
        sel = fams == f
        keep = sel | (labels == 0)
        out[f] = {"image_auroc": auroc(score[keep], labels[keep]),
                  "pixel_ap": average_precision(maps[sel][:, ::2, ::2], masks[sel][:, ::2, ::2]),
                  "aupro": pro_of(maps, masks, keep)}
    out["mean"] = {k: float(np.mean([out[f][k] for f in FAMILIES])) for k in ("image_auroc", "pixel_ap", "aupro")}
    out["all"] = {"aupro": pro_of(maps, masks, np.ones(len(maps), bool))}
    out["mean"]["select"] = 0.5 * out["mean"]["image_auroc"] + 0.5 * out["mean"]["pixel_ap"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="model folders or student.pt checkpoints")
    p.add_argument("--data", required=True, help="the folder of normal images the models were trained on")
    p.add_argument("--holdout", type=float, default=0.15)
    p.add_argument("--holdout-seed", type=int, default=0, help="the held-back split (and its defects' seed)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--json", default=None, help="also write the scores here")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    _, hold_p = split_holdout(list_images(a.data), a.holdout, a.holdout_seed)
    hold = [load_rgb(q) for q in hold_p]
    synth_val = make_valset(hold, a.holdout_seed, a.size)
    fam_val = line_valset(hold, a.holdout_seed, a.size)
    print(f"{len(hold)} held-back images: {len(synth_val[0])} training-family views, {len(fam_val[0])} held-out-family views")
    rows, t0 = [], time.time()
    for k, path in enumerate(a.models):
        net, mean, std, label = load_model(path)
        smaps = predict(net, to_tensor_batch(synth_val[0], mean, std), a.size)
        v = val_metrics(smaps, synth_val)
        v["aupro"] = pro_of(smaps, synth_val[1], np.ones(len(smaps), bool))
        f = line_scores(net, fam_val, a.size, mean, std)
        rows.append({"model": label, "path": path, "synth": v, "families": f})
        el = time.time() - t0
        fam = " ".join(f"{n} {f[n]['image_auroc']:.3f}/{f[n]['pixel_ap']:.3f}/{f[n]['aupro']:.3f}" for n in FAMILIES)
        print(f"[{k + 1}/{len(a.models)}] {label}: synth select {v['val_select']:.4f} AUPRO {v['aupro']:.4f} | held-out "
              f"mean image {f['mean']['image_auroc']:.4f} pixel AP {f['mean']['pixel_ap']:.4f} AUPRO {f['all']['aupro']:.4f} | "
              f"{fam} | ETA {el / (k + 1) * (len(a.models) - k - 1):.0f} s", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
