"""Teacher targets and the distillation loss for train.py --teacher.

Why: the student learns two things at once: the teacher's judgement of each pixel (its
calibrated anomaly map, on normal views and on views with synthetic defects) and the
synthetic defect masks, which are ground truth wherever they exist. Targets are in the
teacher's calibrated units (0 = median normal pixel, 1 = its 99.9th percentile), so any
teacher, built-in or external, gives targets of the same scale.

  --teacher none            synthetic masks only (focal + Dice segmentation)
  --teacher bank:PATH       the feature-bank teacher checkpoint (train_teacher.py's teacher.pt)
  --teacher files[:DIR]     maps precomputed by any model, <stem>.npy or <stem>_map.png beside
                            the images in DIR (default: the --data folder)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from data import load_rgb, to_tensor_batch
from teachers import FileMaps, build_teacher

MASK_TARGET = 4.0  # calibrated units a synthetic defect pixel must reach at least


class Targets:
    """Callable: (views [0,1] HxWx3 list, metas [(path, img_size, box, flips)]) -> [N,1,S,S]."""

    def __init__(self, spec, data, train_paths, size):
        self.kind, self.size = spec.split(":", 1)[0], size
        if self.kind == "bank":
            path = spec.split(":", 1)[1]
            ckpt = torch.load(path, map_location="cpu")
            self.net = build_teacher(ckpt)
            self.net.load_state_dict(ckpt["state"])
            self.net.eval()
            self.mean, self.std = ckpt["mean"], ckpt["std"]
            man = json.load(open(os.path.join(os.path.dirname(path), "model.json")))
            self.offset, self.scale = man["calibration"]["offset"], man["calibration"]["scale"]
            self.describe = f"feature-bank teacher {path} ({ckpt.get('architecture', '')})"
        elif self.kind == "files":
            folder = spec.split(":", 1)[1] if ":" in spec else data
            self.files = FileMaps(folder)
            vals = np.concatenate([self.files.load(p).ravel()[::7] for p in train_paths])
            self.offset = float(np.median(vals))
            self.scale = float(max(np.quantile(vals, 0.999) - self.offset, 1e-6))
            self.describe = f"precomputed maps beside the images in {folder}"
        else:
            raise SystemExit(f"unknown --teacher {spec}")

    def __call__(self, views, metas):
        if self.kind == "bank":
            with torch.no_grad():
                raw = self.net(torch.from_numpy(to_tensor_batch(views, self.mean, self.std)))
            raw = F.interpolate(raw, size=(self.size, self.size), mode="bilinear", align_corners=False)
        else:
            raw = torch.from_numpy(np.stack([self.files.view(p, s, b, f, self.size) for p, s, b, f in metas]))[:, None]
        return (raw - self.offset) / self.scale


def distill_loss(out, teacher_map, mask):
    """Huber regression to the teacher map, raised to MASK_TARGET inside synthetic defects.

    Defect pixels are rare, so they get extra weight; the student's map comes out in the
    teacher's calibrated units.
    """
    up = F.interpolate(out, size=mask.shape[-2:], mode="bilinear", align_corners=False)
    target = torch.clamp(teacher_map, -2.0, 8.0)
    target = torch.where(mask > 0.5, torch.clamp(target, min=MASK_TARGET), target)
    w = 1.0 + 20.0 * mask
    return (w * F.smooth_l1_loss(up, target, reduction="none", beta=1.0)).sum() / w.sum()


def image_meta(path):
    """(path, image size) for FileMaps.view."""
    return path, load_rgb(path).size
