"""Teacher targets and the distillation loss for train.py --teacher.

Why: the student learns two things at once: the teacher's judgement of each pixel (its
calibrated anomaly map, on normal views and on views with synthetic defects) and the
synthetic defect masks, which are ground truth wherever they exist. Targets are in the
teacher's calibrated units (0 = median normal pixel, 1 = its 99.9th percentile), so any
teacher, built-in or external, gives targets of the same scale.

  --teacher none            synthetic masks only (focal + Dice segmentation)
  --teacher bank:PATH       the feature-bank teacher checkpoint (train_teacher.py's teacher.pt)
  --teacher model:PATH      a bigger segmentation network of our own (train.py --width 2 student.pt)
  --teacher files[:DIR]     maps precomputed by any model, <stem>.npy or <stem>_map.png beside
                            the images in DIR (default: the --data folder)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from data import load_rgb, whole_view
from nets import Student
from teachers import FileMaps, build_teacher

MASK_TARGET = 4.0  # calibrated units a synthetic defect pixel must reach at least


class Targets:
    """Callable: (views [N,H,W,3] tensor in [0,1], metas [(path, img_size, box, flips)]) -> [N,1,S,S]."""

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
        elif self.kind == "model":  # a bigger network of our own (a Student checkpoint of any width)
            path = spec.split(":", 1)[1]
            ckpt = torch.load(path, map_location="cpu")
            self.net = Student(ckpt["width"])
            self.net.load_state_dict(ckpt["state"])
            self.net.eval()
            self.mean, self.std = ckpt["mean"], ckpt["std"]
            # Target scale only (thresholds are calibrated at export): maps of normal training views.
            views = torch.from_numpy(np.stack([whole_view(load_rgb(p), size) for p in train_paths[:64]]))
            raw = self.raw(views).numpy()
            self.offset = float(np.median(raw))
            self.scale = float(max(np.quantile(raw, 0.999) - self.offset, 1e-6))
            self.describe = f"own segmentation teacher {path} (Student width {ckpt['width']})"
        elif self.kind == "files":
            folder = spec.split(":", 1)[1] if ":" in spec else data
            self.files = FileMaps(folder)
            vals = np.concatenate([self.files.load(p).ravel()[::7] for p in train_paths])
            self.offset = float(np.median(vals))
            self.scale = float(max(np.quantile(vals, 0.999) - self.offset, 1e-6))
            self.describe = f"precomputed maps beside the images in {folder}"
        else:
            raise SystemExit(f"unknown --teacher {spec}")

    def raw(self, views):
        dev = next(self.net.parameters()).device
        m = torch.tensor(self.mean, device=dev)[None, :, None, None]
        s = torch.tensor(self.std, device=dev)[None, :, None, None]
        with torch.no_grad():
            raw = self.net((views.to(dev).permute(0, 3, 1, 2) - m) / s)
        return F.interpolate(raw, size=(self.size, self.size), mode="bilinear", align_corners=False)

    def __call__(self, views, metas):
        if self.kind in ("bank", "model"):
            raw = self.raw(views)
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
