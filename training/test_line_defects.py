"""Checks of line_defects.py (run by smoke.sh).

Why: the held-out families are a measuring stick; each must draw its kind of defect (thin, broad,
small, at a border, at a corner) and label exactly what it changed, the same for the same seed.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from line_defects import FAMILIES, MAKERS  # noqa: E402
from surfaces import surface  # noqa: E402
from data import whole_view  # noqa: E402

AREA = {"crack": (0.0002, 0.03), "uneven": (0.05, 0.5), "hole": (0.0002, 0.02), "fray": (0.005, 0.2), "break": (0.005, 0.2)}
border = np.zeros((256, 256), bool)
border[:4], border[-4:], border[:, :4], border[:, -4:] = True, True, True, True
for f in FAMILIES:
    areas, shares = [], []
    for k in range(12):
        v = whole_view(surface(0, k), 256)
        out, m = MAKERS[f](v, np.random.RandomState([k, 1]))
        again, m2 = MAKERS[f](v, np.random.RandomState([k, 1]))
        assert np.array_equal(out, again) and np.array_equal(m, m2), f"{f}: not repeatable with its seed"
        assert out.shape == v.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1, f
        diff = np.abs(out - v).max(2)
        if m.sum() == 0:
            continue  # nothing visible on this surface: labelled as nothing
        shares.append((diff[m > 0] > 0.015).mean())  # labelled pixels that visibly changed
        grown = m > 0
        for _ in range(6):  # pixels more than 6 px from the mask must be untouched (soft edges stay near)
            grown = grown | np.roll(grown, 1, 0) | np.roll(grown, -1, 0) | np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
        if f != "uneven":  # uneven's soft edge is wide by design (sigma up to 12 px)
            assert diff[~grown].max() < 0.02, f"{f}: changed far outside its mask ({diff[~grown].max():.3f})"
        if f in ("fray", "break"):
            assert (m[border] > 0).any(), f"{f}: must touch the view's border"
        areas.append(m.mean())
    # a border defect on a surface's dark background changes little (labelled by its neighbours)
    assert np.median(shares) > 0.9 and min(shares) > 0.2, f"{f}: labelled but unchanged pixels: {np.round(shares, 2)}"
    lo, hi = AREA[f]
    assert len(areas) >= 10 and lo <= np.median(areas) <= hi, f"{f}: median area {np.median(areas) if areas else None} not in {AREA[f]}"
print("test_line_defects: " + ", ".join(FAMILIES) + " repeatable, labelled where changed, sized as their kind")
