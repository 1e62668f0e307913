"""Reading folders of normal images and cutting training views from them.

Why: the toolkit must accept any folder a line engineer points it at (any size, gray or
colour), and the daemon feeds the model either whole ROIs resized to the model size or tiles
cut from them, so training views mix both (whole-image resizes and random crops).
"""
import os

import numpy as np
from PIL import Image

EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(folder):
    """Sorted image paths in `folder` (sorted so the data order is deterministic).

    Files that are teacher maps or masks (`*_map.png`, `*_mask.png`) are skipped.
    """
    names = sorted(
        n for n in os.listdir(folder)
        if n.lower().endswith(EXTS) and not n.lower().endswith(("_map.png", "_mask.png"))
    )
    if not names:
        raise SystemExit(f"no images in {folder}")
    return [os.path.join(folder, n) for n in names]


def load_rgb(path):
    """PIL RGB image; gray images become R=G=B, as the daemon feeds them."""
    im = Image.open(path)
    return im.convert("RGB")


def split_holdout(paths, fraction, seed):
    """Deterministic (train, holdout) split; holdout is used for calibration and early stopping."""
    rng = np.random.RandomState(seed + 7919)
    order = rng.permutation(len(paths))
    n_hold = max(1, int(round(len(paths) * fraction))) if len(paths) > 2 else 0
    hold = sorted(paths[i] for i in order[:n_hold])
    train = sorted(paths[i] for i in order[n_hold:])
    return train, hold


def whole_view(im, size):
    """The whole image resized to size x size (what resize-to-model tiling feeds)."""
    return np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0


def random_view(im, size, rng, whole_p=0.5, jitter=True, with_params=False):
    """A training view: whole image or a random crop, random flips, mild photometric jitter.

    Returns float32 HxWx3 in [0, 1] (and, with_params, the crop box and (h-flip, v-flip) so a
    teacher map stored beside the image can be cut the same way).
    """
    w, h = im.size
    if rng.rand() < whole_p:
        box = (0, 0, w, h)
    else:
        side = rng.uniform(0.35, 1.0) * min(w, h)
        aspect = np.exp(rng.uniform(-0.3, 0.3))
        cw = int(min(w, max(16, side * aspect)))
        ch = int(min(h, max(16, side / aspect)))
        x0 = rng.randint(0, w - cw + 1)
        y0 = rng.randint(0, h - ch + 1)
        box = (x0, y0, x0 + cw, y0 + ch)
    arr = np.asarray(im.resize((size, size), Image.BILINEAR, box=box), dtype=np.float32) / 255.0
    flips = (rng.rand() < 0.5, rng.rand() < 0.5)
    if flips[0]:
        arr = arr[:, ::-1]
    if flips[1]:
        arr = arr[::-1]
    if jitter:
        gain = rng.uniform(0.85, 1.15)
        bias = rng.uniform(-0.05, 0.05)
        arr = np.clip(arr * gain + bias, 0.0, 1.0)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    return (arr, (box, flips)) if with_params else arr


def to_tensor_batch(arrs, mean, std):
    """List of HxWx3 [0,1] arrays -> normalised NCHW float32 numpy batch."""
    x = np.stack(arrs).transpose(0, 3, 1, 2).astype(np.float32)
    m = np.asarray(mean, np.float32)[None, :, None, None]
    s = np.asarray(std, np.float32)[None, :, None, None]
    return (x - m) / s
