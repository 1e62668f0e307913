"""Teachers: where the student's target anomaly maps come from (pluggable).

Why: the student is only as good as its targets. Three sources share one interface,
`maps(views, names, boxes) -> [N,1,h,w] raw maps or None`:
  - "bank": the project's own feature teacher: ImageNet MobileNetV2 features (from nsfwjs,
    see mobilenet.py) with a memory bank of normal patch features (PatchCore-style nearest
    neighbour distance). Slow (kNN over thousands of patches) but needs no defect examples.
  - "files": maps precomputed by any external model (e.g. AnomalyCLIP on a GPU elsewhere),
    stored beside each training image as <stem>.npy (2-D float) or <stem>_map.png (8-bit);
    they are cropped/flipped with the view. Only normal images have files, so synthetic
    defects still take their labels from the synthetic masks.
  - "none": synthetic masks only.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from mobilenet import MobileNetV2Features


class BankTeacher(nn.Module):
    """image [N,3,H,W] (normalised [0,1]) -> nearest-normal-patch distance map [N,1,H/4,W/4]."""

    def __init__(self, dim=576, proj_dim=160, bank_size=8000, taps=(6, 10)):
        super().__init__()
        self.backbone = MobileNetV2Features(taps)
        self.register_buffer("proj", torch.zeros(dim, proj_dim))
        self.register_buffer("bank", torch.zeros(bank_size, proj_dim))
        self.register_buffer("bank_sq", torch.zeros(bank_size))

    def features(self, x):
        """Locally averaged (3x3) stride-8 and stride-16 features, concatenated, projected."""
        f8, f16 = self.backbone(x)
        f8 = F.avg_pool2d(f8, 3, 1, 1, count_include_pad=False)
        f16 = F.avg_pool2d(f16, 3, 1, 1, count_include_pad=False)
        f16 = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        f = torch.cat([f8, f16], 1)
        return torch.einsum("nchw,cd->nhwd", f, self.proj)  # [N, h, w, D]

    def forward(self, x):
        f = self.features(x)
        n, h, w, d = f.shape
        q = f.reshape(n, h * w, d)
        d2 = (q * q).sum(-1, keepdim=True) - 2 * torch.matmul(q, self.bank.t()) + self.bank_sq
        dist = torch.sqrt(torch.clamp(d2.min(-1)[0], min=1e-6)).reshape(n, 1, h, w)
        return F.interpolate(dist, size=(x.shape[-2] // 4, x.shape[-1] // 4), mode="bilinear", align_corners=False)


def greedy_coreset(feats, k, seed, start_pool=80000):
    """PatchCore's greedy k-centre selection on a random subset (CPU-frugal)."""
    g = torch.Generator().manual_seed(seed)
    if len(feats) > start_pool:
        feats = feats[torch.randperm(len(feats), generator=g)[:start_pool]]
    k = min(k, len(feats))
    sq = (feats * feats).sum(1)

    def dist2(j):  # one matrix-vector pass instead of three elementwise passes
        return sq - 2 * torch.mv(feats, feats[j]) + sq[j]

    sel = [int(torch.randint(len(feats), (1,), generator=g))]
    mind = dist2(sel[0])
    for i in range(1, k):
        j = int(torch.argmax(mind))
        sel.append(j)
        mind = torch.minimum(mind, dist2(j))
        if i % 1000 == 0:
            print(f"  coreset {i}/{k}, max min-distance {float(mind.max()):.3f}", flush=True)
    return feats[sel]


class FileMaps:
    """Precomputed teacher maps beside the images: <stem>.npy or <stem>_map.png."""

    def __init__(self, folder):
        self.folder = folder

    def load(self, name):
        stem = os.path.splitext(os.path.basename(name))[0]
        npy = os.path.join(self.folder, stem + ".npy")
        png = os.path.join(self.folder, stem + "_map.png")
        if os.path.exists(npy):
            return np.load(npy).astype(np.float32)
        if os.path.exists(png):
            return np.asarray(Image.open(png).convert("L"), np.float32) / 255.0
        raise FileNotFoundError(f"no teacher map for {name} ({npy} or {png})")

    def view(self, name, img_size, box, flips, out):
        """The file map cut with the same box (in image pixels) and flips as the image view."""
        m = self.load(name)
        w, h = img_size
        mi = Image.fromarray(m).resize((w, h), Image.BILINEAR)  # maps may be at any resolution
        v = np.asarray(mi.resize((out, out), Image.BILINEAR, box=box), np.float32)
        if flips[0]:
            v = v[:, ::-1]
        if flips[1]:
            v = v[::-1]
        return np.ascontiguousarray(v)


def build_teacher(ckpt):
    """The teacher module for a teacher checkpoint dict (used by export.py)."""
    a = ckpt["teacher_cfg"]
    return BankTeacher(a["dim"], a["proj_dim"], a["bank_size"], tuple(a["taps"]))
