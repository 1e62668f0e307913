"""Networks: the small student segmenter and the fixed smoothing head used at export.

Why: the student must run at line rate on an edge CPU, so it is a narrow U-Net that works at
1/2..1/32 of the input and predicts the anomaly map at 1/4 resolution (the daemon resizes the
map bilinearly); a 1/32 stage gives the context needed for large, faint defects.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cbr(i, o, stride=1, dil=1):
    """3x3 conv + batch norm + ReLU (BN folds into the conv when ONNX is optimised)."""
    return nn.Sequential(
        nn.Conv2d(i, o, 3, stride, padding=dil, dilation=dil, bias=False),
        nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class Student(nn.Module):
    """Narrow U-Net: image [N,3,H,W] -> anomaly logits [N,1,H/4,W/4].

    `width` scales all channels; width=1 is about 0.5 GFLOP at 256x256.
    """

    def __init__(self, width=1.0):
        super().__init__()
        c = [max(8, int(round(k * width))) for k in (24, 32, 64, 96, 128)]
        self.s1 = cbr(3, c[0], 2)                                   # 1/2
        self.s2 = nn.Sequential(cbr(c[0], c[1], 2), cbr(c[1], c[1]))  # 1/4
        self.s3 = nn.Sequential(cbr(c[1], c[2], 2), cbr(c[2], c[2]))  # 1/8
        self.s4 = nn.Sequential(cbr(c[2], c[3], 2), cbr(c[3], c[3]))  # 1/16
        self.s5 = nn.Sequential(cbr(c[3], c[4], 2), cbr(c[4], c[4], dil=2))  # 1/32
        self.r5 = nn.Conv2d(c[4], c[2], 1)
        self.r4 = nn.Conv2d(c[3], c[2], 1)
        self.d3 = cbr(c[2] * 2, c[2])
        self.d2 = cbr(c[2] + c[1], c[1])
        self.head = nn.Conv2d(c[1], 1, 1)

    def forward(self, x):
        return self.taps(x)["logits"]

    def taps(self, x):
        """Every intermediate map by name (f2..f5 encoder, d3/d2 decoder) and the logits."""
        f2 = self.s2(self.s1(x))
        f3 = self.s3(f2)
        f4 = self.s4(f3)
        f5 = self.s5(f4)
        ctx = self.r4(f4) + F.interpolate(self.r5(f5), size=f4.shape[-2:], mode="bilinear", align_corners=False)
        d3 = self.d3(torch.cat([f3, F.interpolate(ctx, size=f3.shape[-2:], mode="bilinear", align_corners=False)], 1))
        d2 = self.d2(torch.cat([f2, F.interpolate(d3, size=f2.shape[-2:], mode="bilinear", align_corners=False)], 1))
        return {"f2": f2, "f3": f3, "f4": f4, "f5": f5, "d3": d3, "d2": d2, "logits": self.head(d2)}


def feature_taps(net, x):
    """The named intermediate maps of a Student (without the logits), for choosing a feature layer."""
    t = net.taps(x)
    t.pop("logits")
    return t


def gaussian_kernel(sigma, radius):
    """Normalised 2-D Gaussian kernel as a [1,1,k,k] tensor."""
    ax = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(ax ** 2) / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return (k / k.sum())[None, None]


class Smooth(nn.Module):
    """Fixed Gaussian blur with reflect padding, so max(map) is a stable image score."""

    def __init__(self, sigma=1.0, radius=2):
        super().__init__()
        self.radius = radius
        self.register_buffer("k", gaussian_kernel(sigma, radius))

    def forward(self, m):
        r = self.radius
        return F.conv2d(F.pad(m, (r, r, r, r), mode="reflect"), self.k)


class Exported(nn.Module):
    """What goes into the ONNX: net -> (optional map transform) -> blur; output 'anomaly_map'.

    With `features` (a tap name of Student.taps, e.g. "f3") it also returns that intermediate map
    with every position's feature vector L2-normalised (so the memory bank compares directions, not
    brightness-driven magnitudes), for the few-shot memory bank; training/feature_probe.py chose it.
    """

    def __init__(self, net, sigma=1.0, radius=2, features=None):
        super().__init__()
        self.net = net
        self.smooth = Smooth(sigma, radius)
        self.features = features

    def forward(self, image):
        if not self.features:
            return self.smooth(self.net(image))
        t = self.net.taps(image)
        return self.smooth(t["logits"]), F.normalize(t[self.features], dim=1)


def count_flops(net, size=256):
    """Multiply-adds x2 of conv layers for one size x size image (a quick CPU-cost proxy)."""
    total = [0]

    def hook(m, i, o):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += 2 * k * o.numel() * m.out_channels // o.shape[1]

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total[0]
