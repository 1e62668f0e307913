"""Held-out synthetic defect families, shaped after the kinds of defect a line names.

Why: the validation that picks checkpoints used synth.py's defects, the very families the
student trains on, and past ~0.88 it stopped predicting real defects (STATUS.md, twenty-second
session: validation +0.019 while the test fell). These families are never trained on: they
stand in for real defects the model has not seen, the way a line's real defects are unseen.
They follow the defect kinds the magnetic-tile dataset's README names (blowhole, crack, break,
fray, uneven; sizes from its table), written from those words, not from its test images:

  crack    thin (1-2 px), dark, low-contrast, branching line whose depth fades along it
  uneven   a broad patch (10-45 % of the view) a few per cent brighter or darker, soft-edged
  hole     1-4 small round pits, dark in the middle, sometimes with a lit rim
  fray     a rough, worn band along one border of the part
  break    a corner or edge chunk missing: background level behind a fracture line

Each function takes a normal HxWx3 [0, 1] view and a RandomState and returns (view, mask).
"""
import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from synth import changed_mask, fractal, perlin

FAMILIES = ("crack", "uneven", "hole", "fray", "break")


def _label(out, img, region):
    """Mask as synth.py labels its defects, with a lower floor: these are meant to be faint."""
    return changed_mask(out, img, region, floor=0.015)


def crack(img, rng):
    size = img.shape[0]
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    x, y = rng.uniform(0.15, 0.85, 2) * size
    ang = rng.uniform(0, 2 * np.pi)
    trunks = [(x, y, ang, rng.randint(8, 30))]
    for k in range(rng.randint(1, 4)):  # the trunk, then up to two branches off it
        if k >= len(trunks):
            break
        x, y, ang, n = trunks[k]
        pts = [(x, y)]
        for _ in range(n):
            ang += rng.normal(0, 0.35)
            x, y = x + rng.uniform(2, 8) * np.cos(ang), y + rng.uniform(2, 8) * np.sin(ang)
            pts.append((x, y))
            if rng.rand() < 0.08:
                trunks.append((x, y, ang + rng.choice([-1, 1]) * rng.uniform(0.4, 1.2), rng.randint(4, 14)))
        d.line(pts, fill=255, width=1 + int(rng.rand() < 0.3))
    line = np.asarray(im, np.float32) / 255
    alpha = gaussian_filter(line, rng.uniform(0.4, 0.8))
    alpha = alpha / max(alpha.max(), 1e-6)
    depth = rng.uniform(0.12, 0.5) * (0.3 + 0.7 * fractal(size, size, rng, base=4))
    out = img * (1 - depth * alpha)[..., None]
    return np.clip(out, 0, 1).astype(np.float32), _label(out, img, alpha > 0.25)


def uneven(img, rng):
    size = img.shape[0]
    for _ in range(8):
        n = perlin(size, size, 2, 2, rng) + 0.5 * perlin(size, size, 4, 4, rng)
        region = n > rng.uniform(0.05, 0.45)
        if 0.10 <= region.mean() <= 0.45:
            break
    alpha = gaussian_filter(region.astype(np.float32), rng.uniform(4, 12))
    amp = rng.choice([-1, 1]) * rng.uniform(0.04, 0.14)
    out = img + amp * alpha[..., None] * (0.7 + 0.3 * fractal(size, size, rng, base=2)[..., None])
    if rng.rand() < 0.5:  # ground differently: the fine texture smeared along one direction
        smear = gaussian_filter(img, (rng.uniform(0, 3), rng.uniform(0, 3), 0))
        out = out * (1 - alpha[..., None]) + (smear + amp * alpha[..., None]) * alpha[..., None]
    return np.clip(out, 0, 1).astype(np.float32), _label(out, img, alpha > 0.5)


def hole(img, rng):
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out, region = img.copy(), np.zeros((size, size), bool)
    for _ in range(rng.randint(1, 5)):
        cx, cy = rng.uniform(0.08, 0.92, 2) * size
        r = rng.uniform(1.5, 7)
        e = rng.uniform(0.6, 1.0)
        d = np.sqrt(((xx - cx) / r) ** 2 + ((yy - cy) / (r * e)) ** 2)
        pit = np.clip(1.2 - d, 0, 1) ** 0.7  # darkest in the middle, soft to the edge
        out = out * (1 - rng.uniform(0.3, 0.8) * pit)[..., None]
        if rng.rand() < 0.4:  # the far wall catches the light
            a = rng.uniform(0, 2 * np.pi)
            rim = np.exp(-((d - 1.0) / 0.25) ** 2) * np.clip(np.cos(a) * (xx - cx) + np.sin(a) * (yy - cy), 0, None) / r
            out = out + rng.uniform(0.1, 0.3) * rim[..., None]
        region |= d < 1.0
    return np.clip(out, 0, 1).astype(np.float32), _label(out, img, region)


def fray(img, rng):
    size = img.shape[0]
    t = np.arange(size) / size
    base = rng.uniform(0.03, 0.15) * size
    depth = base * (1 + 0.8 * perlin(1, size, 1, rng.randint(4, 16), rng)[0]) + rng.uniform(0, 3, size)
    span = (t > rng.uniform(0, 0.4)) & (t < rng.uniform(0.6, 1.0))
    band = (np.arange(size)[:, None] < depth[None, :]) & span[None, :]
    band = np.ascontiguousarray(np.rot90(band, rng.randint(4)))
    alpha = gaussian_filter(band.astype(np.float32), rng.uniform(0.5, 1.5))[..., None]
    worn = img * rng.uniform(0.4, 0.8) + rng.normal(0, rng.uniform(0.02, 0.08), img.shape[:2])[..., None]
    out = img * (1 - alpha) + worn * alpha
    return np.clip(out, 0, 1).astype(np.float32), _label(out, img, band)


def break_(img, rng):
    size = img.shape[0]
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    a, b = rng.uniform(0.1, 0.45, 2) * size  # how far the fracture runs along the two sides
    mid = rng.uniform(0.3, 0.7)
    bend = rng.uniform(-0.15, 0.15) * size
    d.polygon([(0, 0), (a, 0), (a * (1 - mid) + bend, b * mid + bend), (0, b)], fill=255)
    m = np.asarray(im) > 0
    m = np.ascontiguousarray(np.rot90(m, rng.randint(4)))
    alpha = gaussian_filter(m.astype(np.float32), 0.7)[..., None]
    bg = rng.uniform(0.0, 0.2) + rng.normal(0, 0.01, img.shape[:2])[..., None]
    out = img * (1 - alpha) + bg * alpha
    return np.clip(out, 0, 1).astype(np.float32), _label(out, img, m)


MAKERS = {"crack": crack, "uneven": uneven, "hole": hole, "fray": fray, "break": break_}


def line_valset(hold_ims, seed, size, families=FAMILIES):
    """Each held-back image clean once, then with one defect of every family (fixed by seed).

    Returns views, masks [N,H,W], labels (0 clean, 1 defect) and the family of each view ('' clean).
    """
    from data import whole_view
    rng = np.random.RandomState(seed + 15485863)
    views, masks, labels, fams = [], [], [], []
    for im in hold_ims:
        v = whole_view(im, size)
        views.append(v), masks.append(np.zeros(v.shape[:2], np.float32)), labels.append(0), fams.append("")
        for f in families:
            a, m = MAKERS[f](v, rng)
            views.append(a), masks.append(m), labels.append(1), fams.append(f)
    return views, np.stack(masks), np.array(labels), np.array(fams)
