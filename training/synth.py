"""Synthetic anomalies made on the fly from normal images (DRAEM / VTFusion style, own code).

Why: only normal images exist for training, so the segmenter learns what "not normal" looks
like from generic defects: Perlin-noise regions filled with foreign texture or an intensity
change, thin scratches and cracks, small holes, cut-and-paste patches. They are deliberately
generic (not shaped after one dataset's defects) so that a model trained on one line
generalises to defects and domains it never saw.
"""
import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter, rotate


def _fade(t):
    return t * t * t * (t * (t * 6 - 15) + 10)


def perlin(h, w, ry, rx, rng):
    """2-D gradient (Perlin) noise on an ry x rx grid of cells, values about in [-0.7, 0.7]."""
    ang = rng.uniform(0, 2 * np.pi, (ry + 1, rx + 1))
    gy, gx = np.sin(ang), np.cos(ang)
    ys = np.arange(h) * (ry / h)
    xs = np.arange(w) * (rx / w)
    yi, xi = ys.astype(int), xs.astype(int)
    yf, xf = (ys - yi)[:, None], (xs - xi)[None, :]
    Y0, X0 = yi[:, None], xi[None, :]

    def dot(dy, dx):
        return gy[Y0 + dy, X0 + dx] * (yf - dy) + gx[Y0 + dy, X0 + dx] * (xf - dx)

    u, v = _fade(xf), _fade(yf)
    top = dot(0, 0) * (1 - u) + dot(0, 1) * u
    bot = dot(1, 0) * (1 - u) + dot(1, 1) * u
    return top * (1 - v) + bot * v


def fractal(h, w, rng, base=None, octaves=3):
    """Sum of Perlin octaves, normalised to [0, 1]."""
    base = base or 2 ** rng.randint(0, 4)
    out = np.zeros((h, w))
    amp = 1.0
    for o in range(octaves):
        r = base * 2 ** o
        out += amp * perlin(h, w, r, r, rng)
        amp *= 0.5
    out -= out.min()
    return out / max(out.max(), 1e-6)


def perlin_mask(size, rng, min_area=0.002, max_area=0.5):
    """Binary blob mask from thresholded, rotated Perlin noise, with area in a range."""
    for _ in range(8):
        ry, rx = 2 ** rng.randint(0, 6), 2 ** rng.randint(0, 6)
        n = perlin(size, size, ry, rx, rng)
        if rng.rand() < 0.5:
            n = rotate(n, rng.uniform(-90, 90), reshape=False, order=1, mode="reflect")
        m = n > rng.uniform(0.2, 0.55)
        a = m.mean()
        if min_area <= a <= max_area:
            return m.astype(np.float32)
    return blob_mask(size, rng)


def scratch_mask(size, rng):
    """Thin polylines (scratches, cracks), 1-4 px wide, wandering like a random walk."""
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(1, 3)):
        x, y = rng.uniform(0, size, 2)
        ang = rng.uniform(0, 2 * np.pi)
        pts = [(x, y)]
        for _ in range(rng.randint(3, 25)):
            ang += rng.normal(0, 0.5)
            step = rng.uniform(3, 20)
            x, y = x + step * np.cos(ang), y + step * np.sin(ang)
            pts.append((x, y))
        d.line(pts, fill=255, width=int(rng.randint(1, 5)))
    return (np.asarray(im) > 0).astype(np.float32)


def blob_mask(size, rng):
    """A few small ellipses (holes, spots, pits), 2-20 px radius."""
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(1, 5)):
        cx, cy = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(2, 20, 2)
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return (np.asarray(im) > 0).astype(np.float32)


def edge_mask(size, rng):
    """A chipped border: a polygon attached to one image edge (breaks, missing material)."""
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    t = rng.uniform(0, size)
    depth = rng.uniform(8, size * 0.3)
    span = rng.uniform(10, size * 0.5)
    pts = [(t, 0), (t + span, 0)]
    for k in range(rng.randint(2, 6)):
        pts.append((t + span * rng.rand(), depth * rng.uniform(0.3, 1.0)))
    d.polygon(pts, fill=255)
    m = np.asarray(im) > 0
    m = np.rot90(m, rng.randint(4))
    return np.ascontiguousarray(m).astype(np.float32)


def region_mask(size, rng):
    """A large region (10-60 % of the view) bounded by a wavy line across the whole view:
    uneven wear, a different finish on part of a surface, a stain covering a corner."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    a = rng.uniform(0, 2 * np.pi)
    u = np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5)
    wave = 0.15 * perlin(size, size, 2, 2, rng) * rng.uniform(0.3, 1.5)
    m = u + wave > rng.uniform(-0.1, 0.4)
    return m.astype(np.float32)


def texture_change(img, rng, pool_view=None):
    """Same mean level, different fine texture: scaled, removed or foreign high frequencies."""
    sig = rng.uniform(1.0, 4.0)
    low = gaussian_filter(img, (sig, sig, 0))
    high = img - low
    k = rng.randint(3)
    if k == 0:
        high = high * (rng.uniform(0.0, 0.5) if rng.rand() < 0.5 else rng.uniform(1.6, 3.0))
    elif k == 1 and pool_view is not None:
        other = np.rot90(pool_view, rng.randint(0, 4))[:img.shape[0], :img.shape[1]]
        high = (other - gaussian_filter(other, (sig, sig, 0))) * rng.uniform(0.7, 2.0)
    else:
        high = np.rot90(high, 1) * rng.uniform(0.7, 2.0)
    return low + high + rng.uniform(-0.08, 0.08)


def texture(img, pool_view, rng):
    """A foreign texture the size of img: procedural, or another (transformed) normal view."""
    h, w, _ = img.shape
    k = rng.randint(5)
    if k == 0 and pool_view is not None:
        t = np.rot90(pool_view, rng.randint(1, 4))
        t = np.ascontiguousarray(t[:h, :w])
        if t.shape[:2] != (h, w):
            t = np.resize(t, img.shape)
    elif k == 1:
        t = fractal(h, w, rng, base=2 ** rng.randint(2, 6))[..., None].repeat(3, 2)
    elif k == 2:
        yy, xx = np.mgrid[0:h, 0:w]
        a = rng.uniform(0, np.pi)
        f = rng.uniform(0.05, 0.8)
        t = 0.5 + 0.5 * np.sin(f * (np.cos(a) * xx + np.sin(a) * yy))
        t = t[..., None].repeat(3, 2)
    elif k == 3:
        t = gaussian_filter(rng.rand(h, w), rng.uniform(0.5, 3))
        t = (t - t.min()) / max(np.ptp(t), 1e-6)
        t = t[..., None].repeat(3, 2)
    else:
        t = np.full(img.shape, rng.uniform(0, 1))
    if rng.rand() < 0.5:  # keep the texture's contrast but move it to a random level
        t = t - t.mean() + rng.uniform(0.1, 0.9)
    if not _is_gray(img) and rng.rand() < 0.5:
        t = t * rng.uniform(0.6, 1.4, 3)
    elif _is_gray(img):
        t = t.mean(2, keepdims=True).repeat(3, 2)
    return np.clip(t, 0, 1).astype(np.float32)


def _is_gray(img):
    return np.abs(img[..., 0] - img[..., 1]).max() < 1e-3 and np.abs(img[..., 1] - img[..., 2]).max() < 1e-3


def changed_mask(out, img, region, floor=0.02):
    """The mask of a synthetic defect: the drawn region where the view really changed (by more
    than `floor` in some channel, closed over 1-px gaps), so invisible "anomalies" do not teach
    false alarms. float32 0/1."""
    changed = np.abs(out - img).max(2) > floor
    return (region & (gaussian_filter(changed.astype(np.float32), 1.0) > 0.2)).astype(np.float32)


def synthesize(img, rng, pool_view=None):
    """Return (anomalous image, binary mask) for a normal HxWx3 [0,1] view.

    The change is strong enough to be visible (beta >= 0.3) but often subtle, so the
    segmenter must look at local statistics instead of memorising a few defect looks.
    """
    size = img.shape[0]
    shape = rng.choice(["perlin", "perlin", "scratch", "blob", "edge", "region"])
    m = {"perlin": lambda: perlin_mask(size, rng), "scratch": lambda: scratch_mask(size, rng),
         "blob": lambda: blob_mask(size, rng), "edge": lambda: edge_mask(size, rng),
         "region": lambda: region_mask(size, rng)}[shape]()
    alpha = gaussian_filter(m, rng.uniform(0.3, 1.5)) if rng.rand() < 0.7 else m
    alpha = alpha[..., None]
    fill = rng.randint(5)
    if fill == 4:  # texture change, common for large regions
        out = img * (1 - alpha) + texture_change(img, rng, pool_view) * alpha
    elif fill == 0:  # foreign texture
        beta = rng.uniform(0.3, 1.0)
        out = img * (1 - beta * alpha) + texture(img, pool_view, rng) * beta * alpha
    elif fill == 1:  # brighter / darker region with a smooth profile
        delta = rng.choice([-1, 1]) * rng.uniform(0.08, 0.5)
        prof = 0.5 + 0.5 * fractal(size, size, rng)[..., None]
        out = img + delta * prof * alpha
    elif fill == 2:  # gain change (holes, stains): keeps texture, changes level
        gain = rng.uniform(0.15, 0.7) if rng.rand() < 0.7 else rng.uniform(1.3, 2.0)
        out = img * (1 - alpha) + img * gain * alpha
    else:  # cut-paste from elsewhere in the same image, or local blur / noise
        if rng.rand() < 0.5:
            dy, dx = rng.randint(-size // 2, size // 2, 2)
            src = np.roll(np.roll(img, dy, 0), dx, 1)
            if rng.rand() < 0.5:
                src = src[::-1, ::-1]
        elif rng.rand() < 0.5:
            src = gaussian_filter(img, (rng.uniform(1.5, 4), rng.uniform(1.5, 4), 0))
        else:
            src = img + rng.normal(0, rng.uniform(0.05, 0.2), img.shape)
        out = img * (1 - alpha) + src * alpha
    out = np.clip(out, 0, 1).astype(np.float32)
    return out, changed_mask(out, img, m > 0.5)
