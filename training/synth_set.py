"""A synthetic test set in the MVTec AD layout: generated surfaces with synth.py defects.

Why: the generic model (train.py --procedural) is checked on surfaces it never saw (another
generator seed) with `linewatch eval`, beside the real datasets. Each image is the generated
surface resized to --size (synth.py works on square views); half the test images get one
synthetic defect and its mask.

  /usr/bin/python3 training/synth_set.py --out training/runs/synthset --seed 1000
  node dist/src/cli.cjs eval --model models/generic-surface --dataset training/runs/synthset --json
"""
import argparse
import os

import numpy as np
from PIL import Image

from data import whole_view
from surfaces import surface
from synth import synthesize


def save(arr, path):
    Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1000, help="generator stream; training used another one")
    p.add_argument("--train", type=int, default=16, help="train/good images (few-shot references)")
    p.add_argument("--good", type=int, default=60, help="test/good images")
    p.add_argument("--bad", type=int, default=60, help="test/synthetic images (with masks)")
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    for d in ("train/good", "test/good", "test/synthetic", "ground_truth/synthetic"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    k = 0
    for folder, n in (("train/good", a.train), ("test/good", a.good)):
        for i in range(n):
            save(whole_view(surface(a.seed, k), a.size), os.path.join(a.out, folder, f"{k:04d}.png"))
            k += 1
    for i in range(a.bad):
        rng = np.random.RandomState([a.seed, k, 5])
        img, mask = synthesize(whole_view(surface(a.seed, k), a.size), rng, whole_view(surface(a.seed + 1, k), a.size))
        save(img, os.path.join(a.out, "test/synthetic", f"{k:04d}.png"))
        Image.fromarray((mask > 0.5).astype(np.uint8) * 255).save(os.path.join(a.out, "ground_truth/synthetic", f"{k:04d}_mask.png"))
        k += 1
    print(f"wrote {a.out}: {a.train} train/good, {a.good} test/good, {a.bad} test/synthetic")


if __name__ == "__main__":
    main()
