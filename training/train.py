"""Train the student segmenter on normal images with synthetic anomalies, then export it.

Why: a line has only good parts at the start; the student learns to segment generic
synthetic defects on top of them (optionally guided by a teacher's anomaly maps, see
teachers.py) and is exported as ONNX + model.json for the daemon.

  /usr/bin/python3 training/train.py --data shared/datasets/magnetic-tile/train/good \
      --out models/magtile-student --seed 0 --steps 1200

A held-back part of the folder (--holdout) is never trained on: it picks the best checkpoint
(synthetic anomalies on it, fixed by the seed) and calibrates the exported thresholds.

--procedural N trains on N generated normal surfaces (surfaces.py) instead of a folder: no file
is read. The held-back normals are further generated surfaces (indices N and up), written to
OUT/holdout/ so that export calibrates on them. While --pause-file exists, training waits
between steps (a box that is also used for timing runs).
"""
import argparse
import json
import os
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, random_view, split_holdout, to_tensor_batch, whole_view  # noqa: E402
from distill import Targets, distill_loss  # noqa: E402
from metrics import auroc, average_precision  # noqa: E402
from nets import Student, count_flops  # noqa: E402
from synth import synthesize  # noqa: E402

MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="folder of normal images (or --procedural)")
    p.add_argument("--procedural", type=int, default=0,
                   help="train on this many generated surfaces (surfaces.py) instead of --data")
    p.add_argument("--pause-file", default="",
                   help="while this file exists, wait between steps (e.g. /tmp/linewatch-quiet); off by default")
    p.add_argument("--export-only", action="store_true", help="export OUT/student.pt and stop (no training)")
    p.add_argument("--out", required=True, help="output folder (checkpoint, model.onnx, model.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=256, help="model input size, px")
    p.add_argument("--width", type=float, default=1.0, help="student channel multiplier")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--holdout", type=float, default=0.15, help="fraction held back for calibration")
    p.add_argument("--anomaly-p", type=float, default=0.6, help="share of views given a synthetic anomaly")
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--teacher", default="none", help="none | bank:TEACHER.pt | model:STUDENT.pt | files[:DIR] (distill.py)")
    p.add_argument("--init", default=None, help="start from this student.pt (fine-tune / continue)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the model is exported on CPU either way)")
    p.add_argument("--workers", type=int, default=0, help="data loader processes (synthesis is CPU-bound)")
    p.add_argument("--print-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default=None, help="model name in model.json (default: out folder name)")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--features", default=None, help="export a second output 'features' from this student tap (e.g. f3)")
    a = p.parse_args(argv)
    if (a.data is None) == (a.procedural == 0) and not a.export_only:
        p.error("give exactly one of --data and --procedural")
    return a


def seed_all(seed, threads, device="cpu"):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    # CUDA's bilinear-upsampling backward has no deterministic kernel: bit-exact repeats on CPU only.
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")


def make_batch(ims, paths, rng, args):
    """Views of random training images; a share get a synthetic anomaly.

    Returns the [0,1] views, their masks [N,1,S,S] and (path, size, box, flips) per view.
    """
    views, masks, metas = [], [], []
    for _ in range(args.batch):
        i = rng.randint(len(ims))
        v, (box, flips) = random_view(ims[i], args.size, rng, with_params=True)
        m = np.zeros(v.shape[:2], np.float32)
        if rng.rand() < args.anomaly_p:
            other = ims[rng.randint(len(ims))]
            v, m = synthesize(v, rng, random_view(other, args.size, rng))
        views.append(v)
        masks.append(m)
        metas.append((paths[i], ims[i].size, box, flips))
    return views, torch.from_numpy(np.stack(masks)[:, None]), metas


class Batches(torch.utils.data.Dataset):
    """Item `step` is a whole batch drawn with its own RandomState(seed, step): the data are
    the same whatever the number of loader workers, so same seed -> same model."""

    def __init__(self, ims, paths, args):
        self.ims, self.paths, self.args = ims, paths, args

    def __len__(self):
        return self.args.steps

    def __getitem__(self, step):
        rng = np.random.RandomState([self.args.seed, step])
        views, m, metas = make_batch(self.ims, self.paths, rng, self.args)
        return torch.from_numpy(np.stack(views)), m, metas


def loader(ims, paths, args):
    kw = {"num_workers": args.workers}
    if args.workers:
        kw.update(prefetch_factor=4, worker_init_fn=lambda _: torch.set_num_threads(1))
    return torch.utils.data.DataLoader(Batches(ims, paths, args), batch_size=None, shuffle=False, **kw)


def procedural_data(args):
    """Generated training images and held-back normals; the held-back ones are written to
    OUT/holdout/ (export calibrates on files). Returns (ims, names, hold_ims, hold_paths)."""
    from surfaces import surfaces
    n_hold = max(8, int(round(args.procedural * args.holdout)))
    ims = surfaces(args.seed, 0, args.procedural)
    hold = surfaces(args.seed, args.procedural, n_hold)
    hold_dir = os.path.join(args.out, "holdout")
    os.makedirs(hold_dir, exist_ok=True)
    hold_p = []
    for k, im in enumerate(hold):
        hold_p.append(os.path.join(hold_dir, f"surface-{args.procedural + k:06d}.png"))
        im.save(hold_p[-1])
    return ims, [f"surface-{k:06d}" for k in range(args.procedural)], hold, hold_p


def procedural_provenance(a):
    """What model.json says about a model trained on generated surfaces (a: the run's args dict)."""
    from surfaces import FAMILIES
    n = a["procedural"]
    return {"data": f"procedural surfaces: training/surfaces.py, seed {a['seed']}, images 0..{n - 1}; "
                    "no magnetic-tile image used (training reads no image file at all)",
            "generator": {"module": "training/surfaces.py", "seed": a["seed"], "train_images": n,
                          "families": sorted(FAMILIES)},
            "calibration_data": f"held-back generated surfaces (indices {n} and up, written to holdout/ of the run), "
                                "whole image + flips; no image of the target line",
            "metrics_note": "validation and calibration metrics are on held-back generated surfaces, not on train/good",
            "magnetic_tile_images_used": 0}


def wait_quiet(path):
    """Seconds spent waiting while `path` exists (checked every 5 s)."""
    t = time.time()
    if path and os.path.exists(path):
        print(f"paused while {path} exists", flush=True)
        while os.path.exists(path):
            time.sleep(5)
        print(f"resumed after {time.time() - t:.0f} s", flush=True)
    return time.time() - t


def do_export(args):
    from export import export_checkpoint
    ckpt = os.path.join(args.out, "student.pt")
    run_args = torch.load(ckpt, map_location="cpu")["args"]
    extra = {"export_command": "/usr/bin/python3 " + " ".join(shlex.quote(a) for a in sys.argv)}
    if run_args.get("procedural"):
        return export_checkpoint(ckpt, args.out, os.path.join(args.out, "holdout"), name=args.name,
                                 extra={**procedural_provenance(run_args), **extra, **({"features_choice": (
                                     "the default model's tap, not re-chosen: feature_probe.py would need images of a line")}
                                     if args.features else {})}, features=args.features)
    return export_checkpoint(ckpt, args.out, run_args["data"] if args.data is None else args.data, name=args.name,
                             extra=extra, features=args.features)


def seg_loss(logits, mask):
    """Focal (gamma 2) + soft Dice at input resolution: thin scratches survive the 1/4 map."""
    up = F.interpolate(logits, size=mask.shape[-2:], mode="bilinear", align_corners=False)
    ce = F.binary_cross_entropy_with_logits(up, mask, reduction="none")
    focal = ((1 - torch.exp(-ce)) ** 2 * ce).mean()
    p = torch.sigmoid(up)
    dice = 1 - (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
    return 5 * focal + dice


def make_valset(hold_ims, seed, size):
    """Fixed validation views: each held-back image clean and with one synthetic anomaly."""
    rng = np.random.RandomState(seed + 104729)
    views, masks, labels = [], [], []
    for k, im in enumerate(hold_ims):
        v = whole_view(im, size)
        views.append(v), masks.append(np.zeros(v.shape[:2], np.float32)), labels.append(0)
        a, m = synthesize(v, rng, whole_view(hold_ims[(k + 1) % len(hold_ims)], size)[::-1].copy())
        views.append(a), masks.append(m), labels.append(1)
    return views, np.stack(masks), np.array(labels)


def predict(net, x, size, bs=16):
    """Anomaly maps (logits) upsampled to size x size, numpy [N,H,W]."""
    net.eval()
    out = []
    dev = next(net.parameters()).device
    with torch.no_grad():
        for i in range(0, len(x), bs):
            y = net(torch.from_numpy(x[i:i + bs]).to(dev))
            out.append(F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)[:, 0].cpu().numpy())
    net.train()
    return np.concatenate(out)


def validate(net, val, size, mean=MEAN, std=STD):
    """Synthetic-anomaly image AUROC and pixel AP on the held-back views (selection metric)."""
    views, masks, labels = val
    maps = predict(net, to_tensor_batch(views, mean, std), size)
    img = auroc(maps.reshape(len(maps), -1).max(1), labels)
    ap = average_precision(maps[labels == 1][:, ::2, ::2], masks[labels == 1][:, ::2, ::2])
    return {"val_image_auroc": img, "val_pixel_ap": ap, "val_select": 0.5 * img + 0.5 * ap}


def main(argv=None):
    args = parse_args(argv)
    seed_all(args.seed, args.threads, args.device)
    os.makedirs(args.out, exist_ok=True)
    if args.export_only:
        do_export(args)
        return
    if args.procedural:
        ims, train_p, hold, hold_p = procedural_data(args)
    else:
        paths = list_images(args.data)
        train_p, hold_p = split_holdout(paths, args.holdout, args.seed)
        ims = [load_rgb(p) for p in train_p]
        hold = [load_rgb(p) for p in hold_p]
    val = make_valset(hold, args.seed, args.size)
    targets = None if args.teacher == "none" else Targets(args.teacher, args.data, train_p, args.size)
    net = Student(args.width)
    if targets is not None and targets.kind in ("bank", "model"):
        targets.net.to(args.device)
    if args.init:
        net.load_state_dict(torch.load(args.init, map_location="cpu")["state"])
    print(f"train {len(ims)} images, holdout {len(hold)}; student {count_flops(net, args.size) / 1e9:.2f} GFLOP, "
          f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M params", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    dev = torch.device(args.device)
    net.to(dev)
    mean = torch.tensor(MEAN, device=dev)[None, :, None, None]
    std = torch.tensor(STD, device=dev)[None, :, None, None]
    best, best_state, hist, t0, run, paused = -1.0, None, [], time.time(), 0.0, 0.0

    def save():
        ckpt = {"state": best_state, "width": args.width, "size": args.size, "mean": MEAN, "std": STD,
                "args": vars(args), "history": hist, "train_seconds": round(time.time() - t0 - paused, 1),
                "paused_seconds": round(paused, 1),
                "train_images": len(ims), "torch": torch.__version__, "device": args.device + (f" ({torch.cuda.get_device_name()})"
                                                                       if args.device == "cuda" else ""),
                "teacher": "none (synthetic-anomaly masks only)" if targets is None else targets.describe, "holdout": [os.path.basename(p) for p in hold_p],
                "command": "/usr/bin/python3 " + " ".join(shlex.quote(a) for a in sys.argv),
                "best_val": max(hist, key=lambda h: h["val_select"])}
        torch.save(ckpt, os.path.join(args.out, "student.pt"))
        return ckpt

    for step, (views, m, metas) in enumerate(loader(ims, train_p, args), start=1):
        paused += wait_quiet(args.pause_file)
        views, m = views.to(dev), m.to(dev)
        out = net((views.permute(0, 3, 1, 2) - mean) / std)
        loss = seg_loss(out, m) if targets is None else distill_loss(out, targets(views, metas).to(dev), m)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = 0.95 * run + 0.05 * loss.item() if step > 1 else loss.item()
        if step % args.val_every == 0 or step == args.steps:
            v = validate(net, val, args.size)
            v["step"] = step
            hist.append(v)
            if v["val_select"] > best:
                best, best_state = v["val_select"], {k: t.detach().cpu().clone() for k, t in net.state_dict().items()}
                save()  # a run stopped early still leaves its best checkpoint
            el = time.time() - t0 - paused
            eta = el / step * (args.steps - step)
            print(f"step {step}/{args.steps} loss {run:.4f} val img-auroc {v['val_image_auroc']:.4f} "
                  f"pix-ap {v['val_pixel_ap']:.4f} | {el / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)
        elif step % args.print_every == 0:
            el = time.time() - t0 - paused
            print(f"step {step}/{args.steps} loss {run:.4f} | ETA {el / step * (args.steps - step) / 60:.1f} min", flush=True)
    ckpt = save()
    print(f"saved {args.out}/student.pt (best {json.dumps(ckpt['best_val'])})", flush=True)
    if not args.no_export:
        do_export(args)


if __name__ == "__main__":
    main()
