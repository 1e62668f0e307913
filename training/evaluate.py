"""Python-side evaluation on an MVTec-layout test folder, for REPORTING only.

Why: a quick check of a trained run before the daemon's own `linewatch eval` measures it.
Nothing here feeds back into training, checkpoint selection or thresholds (those use the
held-back train/good images only). Each test image is resized whole to the model input
(resize-to-model), its calibrated map is resized back to the image size, and metrics are
computed at the original resolution. Per type: image AUROC against test/good, pixel AUROC
and AUPRO on that type's images only.

  /usr/bin/python3 training/evaluate.py --run training/runs/s1 \
      --dataset shared/datasets/magnetic-tile [--write-manifest models/magtile-student/model.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, to_tensor_batch, whole_view  # noqa: E402
from export import build  # noqa: E402
from metrics import aupro, auroc, f1_max  # noqa: E402


def load_test(dataset):
    """[(type, image path, mask path or None)] for every test image."""
    root = os.path.join(dataset, "test")
    out = []
    for t in sorted(os.listdir(root)):
        for p in list_images(os.path.join(root, t)):
            stem = os.path.splitext(os.path.basename(p))[0]
            mp = os.path.join(dataset, "ground_truth", t, stem + "_mask.png")
            out.append((t, p, mp if t != "good" else None))
    return out


def run_maps(model, items, size, mean, std, cal):
    """Calibrated maps at original resolution, image scores and masks; also ms per image."""
    maps, masks, scores, t_net = [], [], [], 0.0
    for t, p, mp in items:
        im = load_rgb(p)
        x = torch.from_numpy(to_tensor_batch([whole_view(im, size)], mean, std))
        t0 = time.time()
        with torch.no_grad():
            y = model(x)
        t_net += time.time() - t0
        y = (y - cal["offset"]) / cal["scale"]
        scores.append(float(y.max()))
        w, h = im.size
        maps.append(F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy())
        if mp:
            masks.append(np.asarray(Image.open(mp).convert("L").resize((w, h), Image.NEAREST)) > 127)
        else:
            masks.append(np.zeros((h, w), bool))
    return maps, masks, np.array(scores), 1000 * t_net / max(len(items), 1)


def iou(pred, truth):
    u = (pred | truth).sum()
    return 1.0 if u == 0 else float((pred & truth).sum() / u)


def summarise(types, maps, masks, scores, th):
    lab = np.array([t != "good" for t in types])
    pix = np.concatenate([m.ravel() for m in maps])
    gt = np.concatenate([k.ravel() for k in masks])
    res = {"image_auroc": auroc(scores, lab), "pixel_auroc": auroc(pix, gt),
           "aupro": aupro(maps, masks), "image_f1_max": f1_max(scores, lab),
           "pixel_f1_max": f1_max(pix[::4], gt[::4]),
           "iou_normal": float(np.mean([iou(m >= th["pixel"], k) for m, k, l in zip(maps, masks, lab) if not l])),
           "iou_anomalous": float(np.mean([iou(m >= th["pixel"], k) for m, k, l in zip(maps, masks, lab) if l]))
           if lab.any() else float("nan"),
           "normal_false_alarm_rate": float((scores[~lab] >= th["image"]).mean()),
           "defect_detection_rate": float((scores[lab] >= th["image"]).mean()) if lab.any() else float("nan"),
           "images": int(len(types))}
    return res


def evaluate(run, dataset, limit=None):
    ckpt = torch.load(os.path.join(run, "student.pt" if os.path.exists(os.path.join(run, "student.pt"))
                                   else "teacher.pt"), map_location="cpu")
    man = json.load(open(os.path.join(run, "model.json")))
    model = build(ckpt)
    items = load_test(dataset)
    if limit:
        items = items[::max(1, len(items) // limit)]
    types = [t for t, _, _ in items]
    maps, masks, scores, ms = run_maps(model, items, ckpt["size"], ckpt["mean"], ckpt["std"], man["calibration"])
    res = summarise(types, maps, masks, scores, man["threshold"])
    res["ms_per_image_torch_2_threads"] = round(ms, 2)
    res["per_type"] = {}
    lab = np.array([t != "good" for t in types])
    for t in sorted(set(types) - {"good"}):
        own = [i for i, u in enumerate(types) if u == t]
        sel = own + [i for i, u in enumerate(types) if u == "good"]
        r = {"image_auroc": auroc(scores[sel], lab[sel]),
             "pixel_auroc": auroc(np.concatenate([maps[i].ravel() for i in own]),
                                  np.concatenate([masks[i].ravel() for i in own])),
             "aupro": aupro([maps[i] for i in own], [masks[i] for i in own]),
             "iou_anomalous": float(np.mean([iou(maps[i] >= man["threshold"]["pixel"], masks[i]) for i in own])),
             "defect_detection_rate": float((scores[own] >= man["threshold"]["image"]).mean()),
             "images": len(own)}
        res["per_type"][t] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="folder with student.pt/teacher.pt and model.json")
    p.add_argument("--dataset", required=True, help="MVTec-layout folder (test/, ground_truth/)")
    p.add_argument("--limit", type=int, default=None, help="evaluate about this many images (quick look)")
    p.add_argument("--write-manifest", default=None, help="add the result to this model.json's provenance")
    a = p.parse_args()
    torch.set_num_threads(2)
    res = evaluate(a.run, a.dataset, a.limit)
    print(json.dumps(res, indent=1))
    if a.write_manifest:
        man = json.load(open(a.write_manifest))
        key = f"test ({os.path.basename(os.path.abspath(a.dataset))}/test, reporting only, python resize-to-model)"
        man["provenance"]["metrics"][key] = res
        with open(a.write_manifest, "w") as f:
            json.dump(man, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
