"""Rebuild a trainable student checkpoint from an exported model (model.onnx + model.json).

Why: checkpoints (student.pt) are not kept in git and go with the box that trained them, while
the exported ONNX holds the same network with every batch norm folded into its convolution. To
go on training a shipped model (train.py --init) the batch norms are put back: each gets, as its
running statistics, the mean and variance its input has on training views (the folded
convolution's output, synthetic anomalies included), and a scale and shift chosen so that the
rebuilt network computes what the ONNX computes in eval mode exactly, and nearly so in train
mode (batch statistics close to the running ones).

  /usr/bin/python3 training/from_onnx.py --model models/magtile-student \\
      --data ../shared/datasets/magnetic-tile/train/good --out training/runs/rebuilt/student.pt

It checks itself: the rebuilt network, exported again, must reproduce the manifest's self-test
(the map's mean and maximum on a fixed input), and its held-back validation is printed beside
the one recorded at training time (the manifest's holdout files, the recorded run's holdout seed).
"""
import argparse
import json
import os
import re
import shlex
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb, to_tensor_batch  # noqa: E402
from export import selftest  # noqa: E402  (the same fixed input export.py recorded)
from nets import Exported, Student  # noqa: E402
from train import holdout_seed, make_batch, make_valset, parse_args, validate  # noqa: E402

CONV_NAME = re.compile(r"^(?:/net)?/(.+)/Conv$")  # torch 1.13's scoped node names: /s2/s2.0/s2.0.0/Conv


def width_of(manifest):
    """The student width from the manifest's architecture line ("Student U-Net width 0.5")."""
    m = re.search(r"Student U-Net width ([0-9.]+)", manifest["provenance"].get("architecture", ""))
    if not m:
        raise SystemExit(f"{manifest['name']}: not a Student U-Net export (architecture "
                         f"{manifest['provenance'].get('architecture')!r}); only students can be rebuilt")
    return float(m.group(1))


def module_path(node_name):
    """'/s2/s2.0/s2.0.0/Conv' -> 's2.0.0' (the Student's own module path); None for the blur."""
    m = CONV_NAME.match(node_name)
    path = m.group(1).split("/")[-1] if m else None
    return None if path == "smooth" else path


def load_folded(net, graph):
    """Copy the ONNX convolutions into `net`; a conv followed by a batch norm gets the folded
    weight, its batch norm the identity plus the folded bias. Returns the batch norms filled."""
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    mods = dict(net.named_modules())
    filled = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        path = module_path(node.name)
        if path is None:
            continue  # the export's fixed blur
        conv = mods.get(path)
        if not isinstance(conv, nn.Conv2d):
            raise SystemExit(f"ONNX conv {node.name}: no conv {path!r} in the student (wrong width or architecture?)")
        w = torch.from_numpy(init[node.input[1]].copy())
        b = torch.from_numpy(init[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(w.shape[0])
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise SystemExit(f"{path}: ONNX weight {tuple(w.shape)} != student {tuple(conv.weight.shape)}")
        conv.weight.data.copy_(w)
        if conv.bias is not None:
            conv.bias.data.copy_(b)
            filled[path] = None
            continue
        parent, idx = path.rsplit(".", 1)
        bn = mods[f"{parent}.{int(idx) + 1}"]
        bn.running_mean.zero_(), bn.running_var.fill_(1.0)
        bn.weight.data.fill_(float(np.sqrt(1.0 + bn.eps))), bn.bias.data.copy_(b)
        filled[path] = bn
    want = {n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    if set(filled) != want:
        raise SystemExit(f"the ONNX lacks convolutions {sorted(want - set(filled))}")
    return [bn for bn in filled.values() if bn is not None]


def restore_statistics(net, bns, views, mean, std, bs=16):
    """Give each batch norm the running statistics of its input on `views`, keeping what the
    network computes in eval mode: scale sqrt(var + eps), shift mean + folded bias."""
    sums = {bn: [0.0, 0.0, 0] for bn in bns}

    def hook(bn, inp, _out):
        x = inp[0].double()
        s = sums[bn]
        s[0] = s[0] + x.sum((0, 2, 3))
        s[1] = s[1] + (x * x).sum((0, 2, 3))
        s[2] += x.numel() // x.shape[1]

    hs = [bn.register_forward_hook(hook) for bn in bns]
    net.eval()
    with torch.no_grad():
        for i in range(0, len(views), bs):
            net(torch.from_numpy(to_tensor_batch(views[i:i + bs], mean, std)))
    for h in hs:
        h.remove()
    for bn in bns:
        s, q, n = sums[bn]
        mu = s / n
        var = (q / n - mu * mu).clamp_min(1e-12)
        folded_bias = bn.bias.data.clone()  # still the identity set by load_folded
        bn.running_mean.copy_(mu.float())
        bn.running_var.copy_(var.float())
        bn.weight.data.copy_(torch.sqrt(var + bn.eps).float())
        bn.bias.data.copy_((mu + folded_bias.double()).float())


def training_views(paths, size, n, seed, run, bs=16):
    """n views as train.py made them for the run (its make_batch with the run's own arguments:
    random crops, flips, its share and families of synthetic anomalies), drawn bs at a time from
    one seeded stream."""
    rng = np.random.RandomState(seed)
    ims = [load_rgb(p) for p in paths]
    out = []
    while len(out) < n:
        args = SimpleNamespace(**{**vars(run), "batch": min(bs, n - len(out)), "size": size})
        out.extend(make_batch(ims, paths, rng, args)[0])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder (model.onnx + model.json)")
    p.add_argument("--data", required=True, help="the folder of normal images the model was trained on")
    p.add_argument("--out", required=True, help="checkpoint to write (student.pt)")
    p.add_argument("--views", type=int, default=512, help="training views for the batch-norm statistics")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.model, "model.json")) as f:
        manifest = json.load(f)
    prov, inp = manifest["provenance"], manifest["input"]
    size, mean, std = inp["height"], inp["mean"], inp["std"]
    graph = onnx.load(os.path.join(a.model, "model.onnx")).graph
    width = width_of(manifest)
    net = Student(width)
    bns = load_folded(net, graph)

    features = manifest["outputs"].get("features") and re.search(r"student tap (\w+)", prov.get("features", ""))
    tap = features.group(1) if features else None
    run = parse_args(shlex.split(prov["command"])[2:])  # "/usr/bin/python3 training/train.py ARGS"
    before = selftest(Exported(net, features=tap).eval(), size)
    hold = set(prov["holdout_files"])
    train_paths = [q for q in list_images(a.data) if os.path.basename(q) not in hold]
    if len(train_paths) != prov["train_images"]:
        raise SystemExit(f"{a.data}: {len(train_paths)} training images, the manifest says {prov['train_images']}")
    print(f"statistics of {len(bns)} batch norms over {a.views} training views ...", flush=True)
    restore_statistics(net, bns, training_views(train_paths, size, a.views, a.seed, run), mean, std)
    after = selftest(Exported(net, features=tap).eval(), size)
    for name, t in (("folded", before), ("restored", after)):
        err = max(abs(x - y) for k in ("mean", "max") for x, y in zip(t[k], prov["selftest"][k]))
        print(f"self-test, {name} batch norms: max |diff| against the manifest {err:.2e}", flush=True)
        if err > 1e-3:
            raise SystemExit("the rebuilt network does not reproduce the export's self-test")

    hold_paths = [os.path.join(a.data, n) for n in prov["holdout_files"]]
    hseed = holdout_seed(run)
    val = validate(net, make_valset([load_rgb(q) for q in hold_paths], hseed, size), size, mean, std)
    recorded = prov["metrics"]["validation (held-back train/good + synthetic anomalies)"]
    print(f"held-back validation: {json.dumps({k: round(v, 4) for k, v in val.items()})}; recorded at training: "
          f"{json.dumps({k: round(v, 4) for k, v in recorded.items()})}", flush=True)

    ckpt = {"state": {k: w.detach().clone() for k, w in net.state_dict().items()}, "width": width, "size": size,
            "mean": mean, "std": std,
            "args": {"seed": prov["seed"], "steps": prov.get("steps"), "batch": prov.get("batch"), "width": width,
                     "data": a.data, "init": None, "holdout_seed": hseed},
            "history": [{**val, "step": 0}], "best_val": {**val, "step": 0},
            "train_seconds": prov.get("train_seconds", 0),  # its own run; earlier_runs carry theirs
            "train_images": prov["train_images"], "holdout": prov["holdout_files"],
            "torch": prov.get("train_torch"), "device": prov.get("device", "cpu"), "teacher": prov.get("teacher"),
            "command": prov.get("command"), "earlier_runs": prov.get("init_from", []),
            "rebuilt_from": {"model": f"{manifest['name']} {manifest['version']}",
                             "command": "/usr/bin/python3 " + " ".join([sys.argv[0]] + sys.argv[1:]),
                             "batch_norm_views": a.views, "seed": a.seed}}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save(ckpt, a.out)
    print(f"wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
