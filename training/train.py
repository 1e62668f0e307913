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

On a GPU the synthetic-defect batches (CPU work) are the bottleneck, so one run can train
several widths on the same batches (--also 2.5,0.5: OUT/w2.5/, OUT/w0.5/) and can be given a
wall-clock budget (--minutes M): the step count is fixed after the first steps from the
measured rate and recorded in the checkpoint, so `--steps N` with that N repeats the run.
Without --no-export only the first width (OUT/) is exported; the others with --export-only.
"""
import argparse
import contextlib
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
from line_defects import FAMILIES as LINE_FAMILIES, MAKERS as LINE_MAKERS  # noqa: E402
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
    p.add_argument("--also", default="", help="more widths trained on the same batches, e.g. 2.5,0.5 (OUT/w<W>/)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="wall-clock budget: --steps is replaced by what fits, measured over the first steps")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast in the forward pass (cuda)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--holdout", type=float, default=0.15, help="fraction held back for calibration")
    p.add_argument("--holdout-seed", type=int, default=None,
                   help="seed of the held-back split and its validation defects (default --seed); keep it "
                        "across the stages of one model (--init) so no stage trains on another's held-back images")
    p.add_argument("--anomaly-p", type=float, default=0.6, help="share of views given a synthetic anomaly")
    p.add_argument("--line-share", type=float, default=0.0,
                   help="share of those anomalies drawn from line_defects.py's families instead of synth.py's "
                        "(0: none, and the batches are those of a run without this option)")
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="checkpoint to save and export: the best held-back validation, or the last step's weights")
    p.add_argument("--teacher", default="none", help="none | bank:TEACHER.pt | model:STUDENT.pt | files[:DIR] (distill.py)")
    p.add_argument("--init", default=None,
                   help="start from this student.pt (fine-tune / continue); with --also, one per width, comma-separated")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the model is exported on CPU either way)")
    p.add_argument("--workers", type=int, default=0, help="data loader processes (synthesis is CPU-bound)")
    p.add_argument("--print-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default=None, help="model name in model.json (default: out folder name)")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--version", default=None, help="manifest version of the export (default 0.1.0)")
    p.add_argument("--features", default=None, help="export a second output 'features' from this student tap (e.g. f3)")
    a = p.parse_args(argv)
    if (a.data is None) == (a.procedural == 0) and not a.export_only:
        p.error("give exactly one of --data and --procedural")
    a.also = [float(w) for w in a.also.split(",") if w.strip()]
    if a.init and len(a.init.split(",")) != 1 + len(a.also):
        p.error(f"--init needs {1 + len(a.also)} checkpoints (one per width), got {a.init}")
    if a.teacher != "none" and a.also:
        p.error("--also trains on synthetic masks only; distil one width per run")
    return a


def holdout_seed(args):
    """Seed of the held-back split and its validation defects: --holdout-seed, else --seed."""
    return args.seed if args.holdout_seed is None else args.holdout_seed


def seed_all(seed, threads, device="cpu"):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        # CUDA's bilinear-upsampling backward has no deterministic kernel, so bit-exact repeats are
        # CPU-only anyway; on a GPU take cuDNN's fastest convolutions (deterministic ones ran the
        # first GPU run of the fifth session at 9.7 steps/s).
        torch.backends.cudnn.benchmark = True


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
            if args.line_share and rng.rand() < args.line_share:
                v, m = LINE_MAKERS[LINE_FAMILIES[rng.randint(len(LINE_FAMILIES))]](v, rng)
            else:
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
        return UNKNOWN_STEPS if self.args.minutes else self.args.steps

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
                          "families": sorted(FAMILIES), "scenes": ["curved (0.4 of the surfaces)", "on_background (0.4)"],
                          "views": "160-448 px a side, aspect 1:4 to 4:1"},
            "generator_note": "the scene steps (curved-part shading, part edges on a background) were added after "
                              "generic-surface 0.1.0's worst cases on magnetic-tile's test images showed those two "
                              "things scored as defects; no magnetic-tile image is read by the generator or training",
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
                                     if args.features else {})}, features=args.features, version=args.version)
    return export_checkpoint(ckpt, args.out, run_args["data"] if args.data is None else args.data, name=args.name,
                             extra=extra, features=args.features, version=args.version)


HOLD_STEPS = 250  # runs of >= 2500 steps start with this many at lr/25 (a --minutes run measures its rate there)
UNKNOWN_STEPS = 10 ** 7  # a --minutes run's step count until its rate is measured (the loader's length too)


def one_cycle(total):
    """LR factor per step: (HOLD_STEPS at 1/25 in long runs), a cosine warm-up from 1/25 over the
    next 10 %, a cosine down to ~0 (the shape of torch's OneCycleLR). `total` is a one-element
    list: a --minutes run sets it after the hold, which it spends at 1/25 whatever the total,
    so the same total given as --steps repeats the same schedule."""
    def f(step):
        n = total[0]
        hold = HOLD_STEPS if n >= 10 * HOLD_STEPS else 0
        if step < hold:
            return 1 / 25
        step, n = step - hold, n - hold
        warm = max(1, int(0.1 * n))
        if step < warm:
            return 1 / 25 + (1 - 1 / 25) * (1 - np.cos(np.pi * step / warm)) / 2
        t = min(1.0, (step - warm) / max(1, n - warm))
        return 1e-4 / 25 + (1 - 1e-4 / 25) * (1 + np.cos(np.pi * t)) / 2
    return f


class Trainee:
    """One network being trained: its optimiser, schedule, validation history and output folder."""

    def __init__(self, width, out, init, args, total, dev):
        self.width, self.out, self.init = width, out, init
        os.makedirs(out, exist_ok=True)
        self.net = Student(width)
        if init:
            self.net.load_state_dict(torch.load(init, map_location="cpu", weights_only=False)["state"])
        self.net.to(dev)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=args.lr, weight_decay=1e-4)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, one_cycle(total))
        self.best, self.best_state, self.kept, self.hist, self.run = -1.0, None, None, [], 0.0


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
    return val_metrics(predict(net, to_tensor_batch(val[0], mean, std), size), val)


def val_metrics(maps, val):
    """validate()'s metrics from maps already predicted on the validation views."""
    _, masks, labels = val
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
    hseed = holdout_seed(args)
    if args.procedural:
        ims, train_p, hold, hold_p = procedural_data(args)
    else:
        paths = list_images(args.data)
        train_p, hold_p = split_holdout(paths, args.holdout, hseed)
        ims = [load_rgb(p) for p in train_p]
        hold = [load_rgb(p) for p in hold_p]
    val = make_valset(hold, hseed, args.size)
    targets = None if args.teacher == "none" else Targets(args.teacher, args.data, train_p, args.size)
    dev = torch.device(args.device)
    if targets is not None and targets.kind in ("bank", "model"):
        targets.net.to(args.device)
    widths = [args.width] + args.also
    inits = args.init.split(",") if args.init else [None] * len(widths)
    total = [UNKNOWN_STEPS if args.minutes else args.steps]
    nets = [Trainee(w, args.out if k == 0 else os.path.join(args.out, f"w{w:g}"), inits[k], args, total, dev)
            for k, w in enumerate(widths)]
    print(f"train {len(ims)} images, holdout {len(hold)}; " + "; ".join(
        f"width {t.width:g}: {count_flops(Student(t.width), args.size) / 1e9:.2f} GFLOP, "
        f"{sum(p.numel() for p in t.net.parameters()) / 1e6:.2f} M params" for t in nets), flush=True)
    mean = torch.tensor(MEAN, device=dev)[None, :, None, None]
    std = torch.tensor(STD, device=dev)[None, :, None, None]
    t0, paused = time.time(), 0.0
    probe = (50, HOLD_STEPS)  # steps between which a --minutes run measures its rate (after warm-up)
    t_probe = None
    bf16 = args.bf16 and args.device == "cuda"
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def save(t):
        ckpt = {"state": t.best_state, "width": t.width, "size": args.size, "mean": MEAN, "std": STD,
                "args": {**vars(args), "width": t.width, "steps": total[0], "out": t.out, "init": t.init},
                "history": t.hist, "train_seconds": round(time.time() - t0 - paused, 1),
                "paused_seconds": round(paused, 1), "trained_with_widths": widths,
                "train_images": len(ims), "torch": str(torch.__version__), "device": args.device + (f" ({torch.cuda.get_device_name()})"
                                                                       if args.device == "cuda" else ""),
                "teacher": "none (synthetic-anomaly masks only)" if targets is None else targets.describe, "holdout": [os.path.basename(p) for p in hold_p],
                "command": "/usr/bin/python3 " + " ".join(shlex.quote(a) for a in sys.argv),
                "best_val": max(t.hist, key=lambda h: h["val_select"]), "kept_val": t.kept}
        torch.save(ckpt, os.path.join(t.out, "student.pt"))
        return ckpt

    for step, (views, m, metas) in enumerate(loader(ims, train_p, args), start=1):
        paused += wait_quiet(args.pause_file)
        if args.minutes and step == probe[0]:
            t_probe = time.time() - paused
        if args.minutes and step == probe[1]:
            rate = (probe[1] - probe[0]) / (time.time() - paused - t_probe)
            left = args.minutes * 60 - (time.time() - t0 - paused)
            total[0] = max(10 * HOLD_STEPS, probe[1] + int(rate * left * 0.97))  # 3 %: validations
            print(f"time budget {args.minutes:g} min: {rate:.1f} steps/s -> {total[0]} steps", flush=True)
        views, m = views.to(dev), m.to(dev)
        x = (views.permute(0, 3, 1, 2) - mean) / std
        tm = None if targets is None else targets(views, metas).to(dev)
        for t in nets:
            with autocast:
                out = t.net(x)
            out = out.float()
            loss = seg_loss(out, m) if tm is None else distill_loss(out, tm, m)
            t.opt.zero_grad()
            loss.backward()
            t.opt.step()
            t.sched.step()
            t.run = 0.95 * t.run + 0.05 * loss.item() if step > 1 else loss.item()
        last = step >= total[0]
        el = time.time() - t0 - paused
        eta = f"{el / step * max(0, total[0] - step) / 60:.1f} min" if total[0] != UNKNOWN_STEPS else "(measuring the rate)"
        if step % args.val_every == 0 or last:
            for t in nets:
                v = validate(t.net, val, args.size)
                v["step"] = step
                t.hist.append(v)
                if v["val_select"] > t.best or (args.keep == "last" and last):
                    t.best, t.best_state, t.kept = v["val_select"], {k: w.detach().cpu().clone() for k, w in t.net.state_dict().items()}, v
                    save(t)  # a run stopped early still leaves its best checkpoint
                print(f"step {step}/{total[0]} w{t.width:g} loss {t.run:.4f} val img-auroc {v['val_image_auroc']:.4f} "
                      f"pix-ap {v['val_pixel_ap']:.4f} | {el / 60:.1f} min, ETA {eta}", flush=True)
        elif step % args.print_every == 0:
            print(f"step {step}/{total[0]} loss " + " ".join(f"w{t.width:g} {t.run:.4f}" for t in nets)
                  + f" | ETA {eta}", flush=True)
        if last:
            break
    for t in nets:
        ckpt = save(t)
        print(f"saved {t.out}/student.pt (best {json.dumps(ckpt['best_val'])})", flush=True)
    if not args.no_export:
        do_export(args)


if __name__ == "__main__":
    main()
