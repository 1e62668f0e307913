"""Checks of train.py's learning-rate schedule and batches (run by smoke.sh).

Why: a --minutes run fixes its step count only after HOLD_STEPS steps; the run must be repeatable
with --steps N, so the schedule over the hold may not depend on the total it does not know yet.
--line-share 0 must give the batches of a run from before the option (earlier runs repeat).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from PIL import Image  # noqa: E402
from train import HOLD_STEPS, UNKNOWN_STEPS, make_batch, one_cycle, parse_args  # noqa: E402

n = 6345
final = one_cycle([n])
provisional = one_cycle([UNKNOWN_STEPS])  # what a --minutes run uses until it has measured its rate
for step in range(HOLD_STEPS):
    assert final(step) == provisional(step) == 1 / 25, (step, final(step), provisional(step))
warm = int(0.1 * (n - HOLD_STEPS))
assert abs(final(HOLD_STEPS + warm) - 1.0) < 1e-12, final(HOLD_STEPS + warm)  # peak after warm-up
assert final(n) < 1e-4 and final(n - 1) < 1e-3, final(n)                       # annealed to ~0
f = [final(s) for s in range(HOLD_STEPS, HOLD_STEPS + warm)]
assert np.all(np.diff(f) > 0), "warm-up must rise"
g = [final(s) for s in range(HOLD_STEPS + warm, n)]
assert np.all(np.diff(g) <= 0), "anneal must fall"
short = one_cycle([40])  # short runs (smoke tests, CPU) have no hold
assert short(0) == 1 / 25 and short(4) == 1.0, (short(0), short(4))
print("test_train: schedule ok (hold, warm-up, anneal; provisional total leaves the hold unchanged)")

ims = [Image.fromarray((np.random.RandomState(k).rand(80, 90, 3) * 255).astype(np.uint8)) for k in range(3)]


def batch(*extra):
    a = parse_args(["--data", "x", "--out", "x", "--batch", "6", "--size", "64", "--anomaly-p", "1", *extra])
    return make_batch(ims, ["a", "b", "c"], np.random.RandomState(7), a)


v0, m0, _ = batch()
v1, m1, _ = batch("--line-share", "0")
assert all(np.array_equal(a, b) for a, b in zip(v0, v1)) and m0.equal(m1), "--line-share 0 changed the batches"
v2, m2, _ = batch("--line-share", "1")
assert not all(np.array_equal(a, b) for a, b in zip(v0, v2)), "--line-share 1 left the batches as they were"
assert all(m.sum() > 0 for m in m2[:, 0]), "a line-family anomaly left no mask"
print("test_train: --line-share 0 keeps the batches; 1 draws every anomaly from line_defects.py")
