"""Procedural normal surfaces: what a generic (day-one) model trains on instead of a line's images.

Why: a new line has no images yet. A model that has learnt "a surface looks locally
self-similar; a synthetic defect breaks that" on many industrial-looking surfaces can run from
day one (zero-shot) and be refined later with a few references. Nothing here reads a file:
every image comes from a seeded numpy RandomState, so (seed, index) always gives the same image.

Families (general knowledge of industrial surfaces, not shaped after any dataset): brushed
metal, ground / lapped, turned and face-milled with tool marks, cast / porous grain, fine
ceramic or sintered grain, painted (orange peel), woven, wood, printed or perforated patterns,
knurled. Some are then seen as a camera sees a part: the shading of a curved face with specular
bands along it, or the part's edges with a background past them (dark or a fixture's level).
Each then gets a camera finish: lighting gradient, hot spot, vignetting, optional straight
chamfer band, blur, gamma, contrast, sensor noise, grey or colour. Views are 160-448 px a side,
from 1:4 to 4:1.

  /usr/bin/python3 training/surfaces.py --seed 0 --n 48 --sheet training/runs/surfaces.png
"""
import argparse

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter, rotate

from synth import fractal


def _unit(x):
    """Zero mean, unit standard deviation."""
    return (x - x.mean()) / max(x.std(), 1e-6)


def _coords(h, w, angle):
    """Pixel coordinates rotated by angle (radians): along, across."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.cos(angle) * xx + np.sin(angle) * yy, -np.sin(angle) * xx + np.cos(angle) * yy


def streaks(h, w, rng, along=(8, 60), across=(0.3, 1.2), angle=None):
    """Unit-variance streaky noise (brushing, grinding, grain) at a random angle."""
    side = int(np.hypot(h, w)) + 4
    n = gaussian_filter(rng.randn(side, side), (rng.uniform(*across), rng.uniform(*along)))
    ang = rng.uniform(0, 180) if angle is None else angle
    n = rotate(n, ang, reshape=False, order=1, mode="reflect")
    y0, x0 = (side - h) // 2, (side - w) // 2
    return _unit(n[y0:y0 + h, x0:x0 + w])


def grain(h, w, rng, sigma=None):
    """Unit-variance isotropic fine grain."""
    return _unit(gaussian_filter(rng.randn(h, w), rng.uniform(0.5, 1.8) if sigma is None else sigma))


def brushed(h, w, rng):
    return rng.uniform(0.3, 0.75) + rng.uniform(0.02, 0.09) * streaks(h, w, rng) \
        + rng.uniform(0, 0.04) * (fractal(h, w, rng) - 0.5)


def ground(h, w, rng):
    """Cross-hatched grinding or lapping marks, two directions."""
    a = rng.uniform(0, 180)
    s = streaks(h, w, rng, (4, 25), (0.3, 0.8), a) + rng.uniform(0.3, 1) * streaks(h, w, rng, (4, 25), (0.3, 0.8), a + rng.uniform(20, 90))
    return rng.uniform(0.3, 0.7) + rng.uniform(0.02, 0.06) * _unit(s)


def machined(h, w, rng):
    """Turned or face-milled: concentric tool marks around a centre (often outside the view)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r_off = rng.uniform(0, 3) * max(h, w)
    ang = rng.uniform(0, 2 * np.pi)
    cy, cx = h / 2 + r_off * np.sin(ang), w / 2 + r_off * np.cos(ang)
    r = np.hypot(yy - cy, xx - cx) + 2.0 * grain(h, w, rng, 3.0)
    period = rng.uniform(2, 12)
    marks = np.sin(2 * np.pi * r / period)
    marks = np.sign(marks) * np.abs(marks) ** rng.uniform(0.3, 2)
    return rng.uniform(0.3, 0.75) + rng.uniform(0.015, 0.07) * marks + rng.uniform(0.005, 0.03) * grain(h, w, rng)


def porous(h, w, rng):
    """Cast or sintered surface: mottled level, grain, evenly spread small pores."""
    base = rng.uniform(0.25, 0.65) + rng.uniform(0.02, 0.08) * (fractal(h, w, rng) - 0.5) \
        + rng.uniform(0.02, 0.06) * grain(h, w, rng)
    pores = np.zeros((h, w))
    n = int(h * w * rng.uniform(0.0005, 0.005))
    pores[rng.randint(0, h, n), rng.randint(0, w, n)] = 1
    pores = gaussian_filter(pores, rng.uniform(0.6, 1.5))
    return base - rng.uniform(0.1, 0.4) * pores / max(pores.max(), 1e-6)


def ceramic(h, w, rng):
    """Fine-grained pressed or sintered material (ceramic, ferrite, stone), mostly dark to mid grey."""
    out = rng.uniform(0.12, 0.55) + rng.uniform(0.01, 0.05) * grain(h, w, rng, rng.uniform(0.4, 1.2)) \
        + rng.uniform(0.0, 0.05) * (fractal(h, w, rng) - 0.5)
    if rng.rand() < 0.5:
        out += rng.uniform(0.005, 0.03) * streaks(h, w, rng, (10, 80), (0.4, 1.0))
    return out


def painted(h, w, rng):
    """Paint or powder coat: flat level with orange peel and fine speckle."""
    return rng.uniform(0.15, 0.85) + rng.uniform(0.005, 0.03) * grain(h, w, rng, rng.uniform(2, 6)) \
        + rng.uniform(0, 0.02) * grain(h, w, rng, 0.5)


def woven(h, w, rng):
    """Plain or twill weave of threads with a period of 4-18 px, slightly rotated."""
    p = rng.uniform(4, 18)
    u, v = _coords(h, w, rng.uniform(-0.2, 0.2) + rng.choice([0, np.pi / 4]))
    iu, iv = np.floor(u / p), np.floor(v / p)
    top = ((iu + iv * rng.choice([1, 2])) % 2) == 0
    prof_u, prof_v = np.sin(np.pi * (u / p - iu)), np.sin(np.pi * (v / p - iv))
    weave = np.where(top, prof_v, prof_u) ** rng.uniform(0.5, 1.5)
    return rng.uniform(0.2, 0.6) + rng.uniform(0.1, 0.35) * weave + 0.03 * grain(h, w, rng, 0.5)


def wood(h, w, rng):
    """Growth rings bent by low-frequency noise, with fibre streaks along them."""
    ang = rng.uniform(0, np.pi)
    u, _ = _coords(h, w, ang)
    warp = (fractal(h, w, rng, base=2) - 0.5) * rng.uniform(10, 60)
    rings = np.sin(2 * np.pi * (u + warp) / rng.uniform(8, 40))
    fibre = streaks(h, w, rng, (20, 80), (0.4, 1.0), angle=90 - np.degrees(ang))
    return rng.uniform(0.35, 0.65) + rng.uniform(0.05, 0.15) * rings + rng.uniform(0.01, 0.04) * fibre


def printed(h, w, rng):
    """A repeated motif: dots, perforations, stripes, checks, small shapes (prints, meshes, plates)."""
    m = int(rng.randint(6, 40))
    tile = Image.new("L", (m, m), 0)
    d = ImageDraw.Draw(tile)
    kind = rng.randint(4)
    if kind == 0:  # dot or hole grid
        r = rng.uniform(1, m * 0.4)
        d.ellipse((m / 2 - r, m / 2 - r, m / 2 + r, m / 2 + r), fill=255)
    elif kind == 1:  # stripes
        d.rectangle((0, 0, m, rng.uniform(1, m * 0.6)), fill=255)
    elif kind == 2:  # checks
        d.rectangle((0, 0, m // 2, m // 2), fill=255)
        d.rectangle((m // 2, m // 2, m, m), fill=255)
    else:  # a few random shapes
        for _ in range(rng.randint(1, 4)):
            x0, y0 = rng.uniform(0, m, 2)
            x1, y1 = x0 + rng.uniform(1, m / 2), y0 + rng.uniform(1, m / 2)
            (d.rectangle if rng.rand() < 0.5 else d.ellipse)((x0, y0, x1, y1), fill=255)
    t = np.asarray(tile, np.float64) / 255
    big = np.tile(t, (h // m + 3, w // m + 3))
    if rng.rand() < 0.5:
        big = rotate(big, rng.uniform(-30, 30), reshape=False, order=1, mode="wrap")
    oy, ox = rng.randint(0, m, 2)
    big = gaussian_filter(big[oy + m:oy + m + h, ox + m:ox + m + w], rng.uniform(0.3, 1.2))
    lo, hi = np.sort(rng.uniform(0.1, 0.9, 2))
    hi = max(hi, lo + 0.15)
    return lo + (hi - lo) * big + 0.02 * grain(h, w, rng, 0.7)


def knurled(h, w, rng):
    """Diamond knurl or tread plate: two crossed ridges."""
    p, a = rng.uniform(5, 20), rng.uniform(0, np.pi)
    da = rng.uniform(np.pi / 4, np.pi / 2)
    u1, _ = _coords(h, w, a)
    u2, _ = _coords(h, w, a + da)
    ridge = np.abs(np.sin(np.pi * u1 / p)) * np.abs(np.sin(np.pi * u2 / p))
    return rng.uniform(0.2, 0.5) + rng.uniform(0.1, 0.35) * ridge + 0.02 * grain(h, w, rng)


FAMILIES = {"brushed": brushed, "ground": ground, "machined": machined, "porous": porous, "ceramic": ceramic,
            "painted": painted, "woven": woven, "wood": wood, "printed": printed, "knurled": knurled}
# colour in which a family is usually seen: "grey", "tint" (metals: a faint cast), "any" (paint, prints)
COLOUR = {"brushed": "tint", "ground": "tint", "machined": "tint", "porous": "tint", "ceramic": "tint",
          "painted": "any", "woven": "any", "wood": "wood", "printed": "any", "knurled": "tint"}


def chamfer(g, rng):
    """A straight band along one edge at another level (a bevel or a part's edge), normal."""
    k = rng.randint(4)
    r = np.rot90(g, k).copy()
    depth = max(2, int(rng.uniform(0.03, 0.15) * r.shape[0]))
    r[:depth] = r[:depth] * rng.uniform(0.5, 1.5) + rng.uniform(-0.15, 0.15)
    return np.rot90(r, -k).copy()


def curved(g, rng):
    """Shading of a curved part (a cylinder, a bent sheet, a rounded face) lit from one side.

    Across one axis (usually the image's, sometimes tilted) the level follows a smooth profile:
    the falloff of a curved face away from the light, plus one to three specular bands, bright
    or dim, narrow or wide, that run along the part. All of it is normal for such a part.
    """
    h, w = g.shape
    u, _ = _coords(h, w, rng.choice([0.0, np.pi / 2]) + (rng.normal(0, 0.05) if rng.rand() < 0.7 else rng.uniform(0, np.pi)))
    u = (u - u.min()) / max(u.max() - u.min(), 1e-6)
    light = 1 - rng.uniform(-0.3, 0.5) * (2 * u - 1 - rng.uniform(-0.5, 0.5)) ** 2
    for _ in range(rng.randint(1, 4)):
        c, s = rng.uniform(-0.1, 1.1), rng.uniform(0.01, 0.25)
        light = light + rng.uniform(-0.3, 0.8) * np.exp(-((u - c) ** 2) / (2 * s * s))
    return g * np.clip(light, 0.2, 3)


def on_background(g, rng):
    """The part does not fill the view: past one to four of its edges lies a background.

    The background is dark (an opening, a belt, a shadow) or a flat level (a fixture, a tray),
    with its own faint grain; the part's edge is straight or slightly tilted and may carry a
    bevel: a narrow band brighter or darker than the face. Normal at every place of the image.
    """
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    inside = np.ones((h, w), bool)
    dist = np.full((h, w), np.inf)
    for side in rng.permutation(4)[:rng.randint(1, 5)]:
        size = (w if side < 2 else h)
        margin = rng.uniform(0.02, 0.25) * size
        tilt = rng.normal(0, 0.03) * (h if side < 2 else w)
        along = (yy / h if side < 2 else xx / w) - 0.5
        pos = margin + tilt * along
        d = (xx if side == 0 else w - 1 - xx if side == 1 else yy if side == 2 else h - 1 - yy) - pos
        inside &= d >= 0
        dist = np.minimum(dist, d)
    if inside.mean() < 0.3:
        return g
    level = rng.uniform(0.0, 0.12) if rng.rand() < 0.7 else rng.uniform(0.1, 0.8)
    back = level + rng.uniform(0.002, 0.02) * grain(h, w, rng)
    out = np.where(inside, g, back)
    if rng.rand() < 0.6:
        width = rng.uniform(1, 6)
        band = inside & (dist < width)
        out = np.where(band, out * rng.uniform(0.5, 1.8), out)
    soft = rng.uniform(0.3, 1.2)
    return gaussian_filter(out, soft) if rng.rand() < 0.7 else out


def finish(g, rng, family):
    """Camera and lighting: gradients, hot spot, vignetting, blur, gamma, contrast, noise, colour."""
    h, w = g.shape
    if rng.rand() < 0.15:
        g = chamfer(g, rng)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = 1 + rng.uniform(0, 0.5) * (np.cos(a := rng.uniform(0, 2 * np.pi)) * (xx - 0.5) + np.sin(a) * (yy - 0.5))
    if rng.rand() < 0.4:
        cy, cx, s = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.1, 0.5)]
        light = light + rng.uniform(0.05, 0.4) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    if rng.rand() < 0.5:
        light = light * (1 - rng.uniform(0, 0.5) * ((yy - 0.5 * h / max(h, w)) ** 2 + (xx - 0.5 * w / max(h, w)) ** 2) * 2)
    g = g * light
    if rng.rand() < 0.5:
        g = gaussian_filter(g, rng.uniform(0.3, 1.2))
    mode = COLOUR[family] if rng.rand() < 0.5 else "grey"
    if mode == "grey":
        rgb = g[..., None].repeat(3, 2)
    elif mode == "tint":
        rgb = g[..., None] * rng.uniform(0.9, 1.1, 3)
    elif mode == "wood":
        rgb = g[..., None] * np.array([1.2, 0.9, 0.55]) * rng.uniform(0.8, 1.2)
    else:
        rgb = g[..., None] * rng.uniform(0.4, 1.6, 3)
    m = rgb.mean()
    rgb = m + (rgb - m) * rng.uniform(0.6, 1.6)
    rgb = np.clip(rgb, 0, 1) ** rng.uniform(0.7, 1.5)
    rgb = rgb + rng.uniform(0, 0.03) * rng.randn(h, w, 1 if mode == "grey" else 3)
    return np.clip(rgb, 0, 1)


def surface(seed, index):
    """Normal surface number `index` of stream `seed`: a PIL RGB image, 160-448 px a side."""
    rng = np.random.RandomState([seed, index, 17])
    family = list(FAMILIES)[rng.randint(len(FAMILIES))]
    side = rng.uniform(160, 448)
    aspect = np.exp(rng.uniform(-1.4, 1.4))
    h, w = int(side / np.sqrt(aspect)), int(side * np.sqrt(aspect))
    g = FAMILIES[family](h, w, rng)
    scene = np.random.RandomState([seed, index, 29])  # its own stream: turning a step off leaves the rest alone
    if scene.rand() < 0.4:
        g = curved(g, scene)
    if scene.rand() < 0.4:
        g = on_background(g, scene)
    return Image.fromarray((finish(g, rng, family) * 255 + 0.5).astype(np.uint8))


def surfaces(seed, start, n):
    """Images start .. start+n-1 of stream `seed`."""
    return [surface(seed, i) for i in range(start, start + n)]


def contact_sheet(ims, cols=8, cell=160):
    """One PNG-ready image of thumbnails (aspect kept, centred on black)."""
    rows = (len(ims) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * cell))
    for k, im in enumerate(ims):
        t = im.copy()
        t.thumbnail((cell - 4, cell - 4))
        sheet.paste(t, ((k % cols) * cell + (cell - t.width) // 2, (k // cols) * cell + (cell - t.height) // 2))
    return sheet


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--n", type=int, default=48)
    p.add_argument("--sheet", required=True, help="contact sheet PNG to write")
    a = p.parse_args()
    contact_sheet(surfaces(a.seed, a.start, a.n)).save(a.sheet)
    print(f"wrote {a.sheet}")


if __name__ == "__main__":
    main()
