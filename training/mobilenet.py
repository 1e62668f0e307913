"""ImageNet MobileNetV2 features from the npm package nsfwjs (MIT), for the feature teacher.

Why: no pretrained weights can be downloaded on these machines except through package
registries; nsfwjs ships a Keras MobileNetV2 (alpha 1.0, 224) as uint8-quantised tfjs
weights whose layers up to block_10 were frozen during its NSFW fine-tuning, i.e. they are
ImageNet weights. We dequantise them (value = min + scale * q) into a torch re-implementation
of the Keras graph (TF "same" padding: stride-2 convs pad only bottom/right) and use the
frozen part only. Input range is Keras MobileNetV2's [-1, 1] (mean 0.5, std 0.5 on [0, 1]).

  training/get_mobilenet.sh    # npm pack nsfwjs -> training/runs/mobilenet_v2.pt
"""
import base64
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# (expansion, out channels, stride) for block_1 .. block_16, as in Keras MobileNetV2.
BLOCKS = [(6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2), (6, 64, 1), (6, 64, 1),
          (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1)]


class TFConv(nn.Module):
    """Conv (+ folded-at-load BN) + optional ReLU6, with TensorFlow 'same' padding."""

    def __init__(self, i, o, k, stride=1, groups=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(i, o, k, stride, 0, groups=groups, bias=True)
        self.k, self.stride, self.relu = k, stride, relu

    def forward(self, x):
        if self.k > 1:
            p = self.k // 2
            x = F.pad(x, (0, 2 * p, 0, 2 * p)) if self.stride == 2 else F.pad(x, (p, p, p, p))
        x = self.conv(x)
        return torch.clamp(x, 0, 6) if self.relu else x


class MobileNetV2Features(nn.Module):
    """MobileNetV2 trunk up to block `last`; returns the expand-ReLU activations named in `taps`.

    taps are block indices whose *expand* activation is returned (e.g. 6 -> block_6_expand_relu,
    192 channels at stride 8; 10 -> block_10_expand_relu, 384 channels at stride 16).
    """

    def __init__(self, taps=(6, 10)):
        super().__init__()
        self.taps = tuple(taps)
        self.stem = TFConv(3, 32, 3, 2)
        self.b0_dw = TFConv(32, 32, 3, 1, groups=32)
        self.b0_pr = TFConv(32, 16, 1, relu=False)
        self.expand, self.dw, self.proj, self.strides = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), []
        cin = 16
        for t, c, s in BLOCKS[:max(taps)]:
            self.expand.append(TFConv(cin, cin * t, 1))
            self.dw.append(TFConv(cin * t, cin * t, 3, s, groups=cin * t))
            self.proj.append(TFConv(cin * t, c, 1, relu=False))
            self.strides.append((s, cin == c))
            cin = c

    def forward(self, x):
        x = self.b0_pr(self.b0_dw(self.stem(x)))
        out = []
        for n, (e, d, p, (s, res)) in enumerate(zip(self.expand, self.dw, self.proj, self.strides), start=1):
            h = e(x)
            if n in self.taps:
                out.append(h)
                if n == max(self.taps):
                    return out
            h = p(d(h))
            x = x + h if (s == 1 and res) else h
        return out


def _load_tfjs(model_json, shard_b64):
    man = json.load(open(model_json))["weightsManifest"][0]["weights"]
    buf = np.frombuffer(base64.b64decode(open(shard_b64).read()), np.uint8)
    w, off = {}, 0
    for spec in man:
        n = int(np.prod(spec["shape"]))
        q = spec["quantization"]
        w[spec["name"]] = (q["min"] + q["scale"] * buf[off:off + n].astype(np.float64)).reshape(spec["shape"])
        off += n
    assert off == len(buf), (off, len(buf))
    return w


def _fold(conv, w, kname, bn, depthwise=False):
    k = w[kname]  # Keras: [kh, kw, in, out] or depthwise [kh, kw, in, 1]
    k = k.transpose(2, 3, 0, 1) if depthwise else k.transpose(3, 2, 0, 1)
    g, b, m, v = (w[f"{bn}/{s}"] for s in ("gamma", "beta", "moving_mean", "moving_variance"))
    a = g / np.sqrt(v + 1e-3)
    conv.conv.weight.data = torch.tensor(k * a[:, None, None, None], dtype=torch.float32)
    conv.conv.bias.data = torch.tensor(b - m * a, dtype=torch.float32)


def convert(model_json, shard_b64, taps=(6, 10)):
    """Build MobileNetV2Features with the dequantised nsfwjs weights (BN folded)."""
    w = _load_tfjs(model_json, shard_b64)
    net = MobileNetV2Features(taps)
    _fold(net.stem, w, "Conv1/kernel", "bn_Conv1")
    _fold(net.b0_dw, w, "expanded_conv_depthwise/depthwise_kernel", "expanded_conv_depthwise_BN", True)
    _fold(net.b0_pr, w, "expanded_conv_project/kernel", "expanded_conv_project_BN")
    for i, (e, d, p) in enumerate(zip(net.expand, net.dw, net.proj), start=1):
        _fold(e, w, f"block_{i}_expand/kernel", f"block_{i}_expand_BN")
        _fold(d, w, f"block_{i}_depthwise/depthwise_kernel", f"block_{i}_depthwise_BN", True)
        _fold(p, w, f"block_{i}_project/kernel", f"block_{i}_project_BN")
    return net.eval()


if __name__ == "__main__":
    net = convert(sys.argv[1], sys.argv[2])
    torch.save({"state": net.state_dict(), "taps": net.taps,
                "source": "npm nsfwjs (MIT) dist/models/mobilenet_v2, Keras MobileNetV2 ImageNet layers, "
                          "uint8-dequantised"}, sys.argv[3])
    print(f"saved {sys.argv[3]}")
