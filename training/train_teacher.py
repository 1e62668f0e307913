"""Build the feature-bank teacher (ImageNet MobileNetV2 + normal patch memory) and export it.

Why: a teacher that never saw a defect, judging every patch by its distance to the nearest
normal patch, generalises to defect kinds no synthetic generator imagined; the student then
learns its maps at a fraction of the cost. "Training" is feature extraction plus a greedy
coreset, minutes on 2 CPU cores.

  /usr/bin/python3 training/train_teacher.py --data shared/datasets/magnetic-tile/train/good \
      --out models/magtile-teacher --seed 0
"""
import argparse
import os
import shlex
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, random_view, split_holdout, to_tensor_batch, whole_view  # noqa: E402
from teachers import BankTeacher, greedy_coreset  # noqa: E402
from train import make_valset, validate  # noqa: E402

MEAN, STD = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]  # nsfwjs feeds MobileNetV2 pixels / 255


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--holdout", type=float, default=0.15)
    p.add_argument("--bank", type=int, default=8000, help="memory bank size (patches)")
    p.add_argument("--proj-dim", type=int, default=160)
    p.add_argument("--per-view", type=int, default=256, help="patches sampled per training view")
    p.add_argument("--weights", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs",
                                                     "mobilenet_v2.pt"),
                   help="converted MobileNetV2 (made by get_mobilenet.sh if missing); 'none' = random, smoke only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default=None)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    if a.weights == "none":  # smoke tests only: random backbone, exercises the toolchain
        mw = {"state": BankTeacher(576, a.proj_dim, a.bank).backbone.state_dict()}
    elif not os.path.exists(a.weights):
        subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "get_mobilenet.sh"), a.weights],
                       check=True)
    if a.weights != "none":
        mw = torch.load(a.weights)
    train_p, hold_p = split_holdout(list_images(a.data), a.holdout, a.seed)
    net = BankTeacher(576, a.proj_dim, a.bank)
    net.backbone.load_state_dict(mw["state"])
    g = torch.Generator().manual_seed(a.seed)
    net.proj.copy_(torch.randn(576, a.proj_dim, generator=g) / np.sqrt(a.proj_dim))
    net.eval()
    rng = np.random.RandomState(a.seed)
    feats = []
    for k, path in enumerate(train_p):
        im = load_rgb(path)
        v = whole_view(im, a.size)
        views = [v, v[:, ::-1].copy(), v[::-1].copy(), random_view(im, a.size, rng, whole_p=0.0, jitter=False)]
        with torch.no_grad():
            f = net.features(torch.from_numpy(to_tensor_batch(views, MEAN, STD))).reshape(-1, a.proj_dim)
        feats.append(f[torch.from_numpy(rng.choice(len(f), a.per_view * len(views), replace=False))])
        if (k + 1) % 50 == 0:
            el = time.time() - t0
            print(f"features {k + 1}/{len(train_p)} | ETA {el / (k + 1) * (len(train_p) - k - 1) / 60:.1f} min",
                  flush=True)
    feats = torch.cat(feats)
    print(f"coreset {a.bank} of {len(feats)} patches", flush=True)
    bank = greedy_coreset(feats, a.bank, a.seed)
    net.bank.copy_(bank)
    net.bank_sq.copy_((bank * bank).sum(1))
    hold = [load_rgb(q) for q in hold_p]
    v = validate(net, make_valset(hold, a.seed, a.size), a.size, MEAN, STD)
    print(f"validation (held-back + synthetic): {v}", flush=True)
    ckpt = {"kind": "teacher", "state": net.state_dict(), "size": a.size, "mean": MEAN, "std": STD,
            "teacher_cfg": {"dim": 576, "proj_dim": a.proj_dim, "bank_size": a.bank, "taps": [6, 10]},
            "args": vars(a), "train_seconds": round(time.time() - t0, 1), "train_images": len(train_p),
            "holdout": [os.path.basename(q) for q in hold_p], "best_val": v,
            "command": "/usr/bin/python3 " + " ".join(shlex.quote(x) for x in sys.argv),
            "teacher": "self (feature bank)",
            "architecture": f"MobileNetV2 (ImageNet, from npm nsfwjs 4.3.0, MIT) block_6/block_10 expand "
                            f"features, 3x3 avg, random projection 576->{a.proj_dim}, greedy-coreset memory bank "
                            f"of {a.bank} normal patches, nearest-neighbour distance"}
    os.makedirs(a.out, exist_ok=True)
    torch.save(ckpt, os.path.join(a.out, "teacher.pt"))
    from export import export_checkpoint
    export_checkpoint(os.path.join(a.out, "teacher.pt"), a.out, a.data, name=a.name)


if __name__ == "__main__":
    main()
