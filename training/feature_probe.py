"""Which student feature map makes the best few-shot memory bank? (reporting only)

Why: the few-shot reference (issue 3, section 4) keeps a bank of the student's own patch features
from k good images and scores a patch by the distance to its nearest neighbour in the bank. This
script measures, for each candidate layer, how well that distance separates defects, on a SMALL
split only so that the choice is not tuned on the whole test set:
  references: k images drawn from train/good (seeded, several seeds),
  probe split: the first --per-type images (name order) of every test/<defect> folder and the
  first --good images of test/good.
It prints image AUROC (max of the distance map) and pixel AUROC per layer, and the same for the
student's own calibrated map and for fusions of the two, so the fusion is chosen on the split too.

  /usr/bin/python3 training/feature_probe.py --ckpt training/runs/dev/L2.pt \
      --dataset ../shared/datasets/magnetic-tile --model models/magtile-student
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, to_tensor_batch, whole_view  # noqa: E402
from export import build  # noqa: E402
from metrics import auroc  # noqa: E402
from nets import feature_taps  # noqa: E402


def quiet_wait():
    """The lead's CPU-quiet protocol: pause while /tmp/linewatch-quiet exists."""
    import time
    while os.path.exists("/tmp/linewatch-quiet"):
        time.sleep(10)


def split(dataset, per_type, good):
    """The probe split: (paths, labels, mask paths or None)."""
    items = []
    test = os.path.join(dataset, "test")
    for t in sorted(os.listdir(test)):
        names = sorted(os.listdir(os.path.join(test, t)))
        take = names[:good] if t == "good" else names[:per_type]
        for n in take:
            stem = os.path.splitext(n)[0]
            mask = None if t == "good" else os.path.join(dataset, "ground_truth", t, stem + "_mask.png")
            items.append((os.path.join(test, t, n), 0 if t == "good" else 1, mask))
    return items


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True, help="model folder, for the map's calibration")
    p.add_argument("--shots", type=int, default=4)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--per-type", type=int, default=8)
    p.add_argument("--good", type=int, default=30)
    p.add_argument("--layers", default="f3,d3,f4,f2", help="candidate taps (1/4: f2, d2; 1/8: f3, d3; 1/16: f4; 1/32: f5), a+b concatenates")
    p.add_argument("--pools", default="1,3")
    p.add_argument("--normalize", action="store_true", help="L2-normalise each patch feature (cosine distance)")
    a = p.parse_args()
    torch.set_num_threads(2)
    quiet_wait()
    ckpt = torch.load(a.ckpt, map_location="cpu")
    model = build(ckpt)
    size, mean, std = ckpt["size"], ckpt["mean"], ckpt["std"]
    cal = json.load(open(os.path.join(a.model, "model.json")))["calibration"]
    items = split(a.dataset, a.per_type, a.good)
    print(f"probe split: {len(items)} test images ({sum(l for _, l, _ in items)} defective)", file=sys.stderr)

    def run(paths):
        x = torch.from_numpy(to_tensor_batch([whole_view(load_rgb(q), size) for q in paths], mean, std))
        with torch.no_grad():
            taps = feature_taps(model.net, x)
            amap = model(x)[:, 0]
        return taps, (amap - cal["offset"]) / cal["scale"]

    test_taps, test_map = run([q for q, _, _ in items])
    labels = np.array([l for _, l, _ in items])
    msize = test_map.shape[-1]
    gts = []
    for _, l, m in items:
        g = np.zeros((msize, msize), np.uint8) if m is None else np.asarray(Image.open(m).convert("L").resize((msize, msize), Image.NEAREST)) > 127
        gts.append(g)
    gts = np.stack(gts).astype(np.uint8)
    res = {}
    add = lambda k, v: res.setdefault(k, []).append(v)  # noqa: E731
    train = list_images(os.path.join(a.dataset, "train", "good"))
    for seed in [int(s) for s in a.seeds.split(",")]:
        quiet_wait()
        refs = [train[i] for i in np.random.RandomState(seed).choice(len(train), a.shots, replace=False)]
        ref_taps, _ = run(refs)
        for name in a.layers.split(","):
            for pool in [int(v) for v in a.pools.split(",")]:
                quiet_wait()
                def feat(taps):
                    # "f3+f4": both maps at the first one's resolution, concatenated (PatchCore's layer2+3)
                    ts = [taps[n] for n in name.split("+")]
                    hw = ts[0].shape[-2:]
                    ts = [t if t.shape[-2:] == hw else (F.adaptive_avg_pool2d(t, hw) if t.shape[-1] > hw[-1] else F.interpolate(t, size=hw, mode="bilinear", align_corners=False)) for t in ts]
                    t = torch.cat(ts, 1)
                    t = F.avg_pool2d(t, pool, 1, pool // 2, count_include_pad=False) if pool > 1 else t
                    if a.normalize:
                        t = F.normalize(t, dim=1)
                    return t.permute(0, 2, 3, 1)
                r = feat(ref_taps)
                bank = r.reshape(-1, r.shape[-1])
                q = feat(test_taps)
                n, h, w, c = q.shape
                qf = q.reshape(-1, c)
                d = torch.cat([torch.cdist(qf[i:i + 4096], bank).min(1).values for i in range(0, len(qf), 4096)]).reshape(n, 1, h, w)
                # leave-one-out distances of the references to calibrate (k >= 2)
                per = r.reshape(a.shots, -1, c)
                loo = torch.cat([torch.cdist(per[i], torch.cat([per[j] for j in range(a.shots) if j != i])).min(1).values for i in range(a.shots)])
                off = float(loo.median())
                sc = float(max(torch.quantile(loo, 0.999) - off, 1e-6))
                dm = F.interpolate(d, size=(msize, msize), mode="bilinear", align_corners=False)[:, 0]
                dcal = (dm - off) / sc
                key = f"{name} pool{pool}"
                add(key + " | nn", (auroc(dcal.amax((1, 2)).numpy(), labels), auroc(dcal.numpy().ravel(), gts.ravel())))
                for wgt in (0.5, 0.7):
                    fused = wgt * dcal + (1 - wgt) * test_map
                    add(key + f" | {wgt}nn+{1 - wgt:.1f}map", (auroc(fused.amax((1, 2)).numpy(), labels), auroc(fused.numpy().ravel(), gts.ravel())))
                fused = torch.maximum(dcal, test_map)
                add(key + " | max(nn,map)", (auroc(fused.amax((1, 2)).numpy(), labels), auroc(fused.numpy().ravel(), gts.ravel())))
        add("student map alone", (auroc(test_map.amax((1, 2)).numpy(), labels), auroc(test_map.numpy().ravel(), gts.ravel())))
    print(f"{'variant':45s} image_auroc pixel_auroc (mean over seeds {a.seeds}, k={a.shots})")
    for k, v in sorted(res.items(), key=lambda kv: -np.mean([x[0] for x in kv[1]])):
        v = np.array(v)
        print(f"{k:45s} {v[:, 0].mean():.4f}      {v[:, 1].mean():.4f}")


if __name__ == "__main__":
    main()
