"""Metrics: AUROC, average precision, AUPRO (MVTec AD definition, FPR integrated to 0.3).

Why own code: sklearn is not on the target machines; these are small and exact
(ties handled by average ranks), and cheap enough for tens of millions of pixels.
"""
import numpy as np
from scipy.ndimage import label
from scipy.stats import rankdata


def auroc(scores, labels):
    """Area under the ROC curve (Mann-Whitney U with tie correction); nan if one class."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    npos, nneg = y.sum(), (~y).sum()
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def average_precision(scores, labels):
    """Average precision (area under precision-recall, step-wise)."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if y.sum() == 0:
        return float("nan")
    o = np.argsort(-s, kind="mergesort")
    tp = np.cumsum(y[o])
    prec = tp / np.arange(1, len(y) + 1)
    return float(prec[y[o]].sum() / y.sum())


def f1_max(scores, labels):
    """Best F1 over all thresholds."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    o = np.argsort(-s, kind="mergesort")
    tp = np.cumsum(y[o])
    fp = np.cumsum(~y[o])
    f1 = 2 * tp / np.maximum(tp + fp + y.sum(), 1)
    return float(f1.max()) if len(f1) else float("nan")


def aupro(maps, masks, max_fpr=0.3, steps=300):
    """Area under the per-region-overlap curve up to max_fpr, normalised by max_fpr.

    maps, masks: lists of 2-D arrays (same shapes pairwise). Thresholds are taken at the
    normal-pixel quantiles that give FPR 0..max_fpr, so the FPR axis is sampled evenly.
    """
    normal = np.concatenate([m[k == 0].ravel() for m, k in zip(maps, masks)])
    normal.sort()
    fprs = np.linspace(0, max_fpr, steps)
    idx = np.clip(((1 - fprs) * len(normal)).astype(int), 0, len(normal) - 1)
    th = normal[idx]
    regions = []
    for m, k in zip(maps, masks):
        lab, n = label(k > 0)
        for r in range(1, n + 1):
            regions.append(np.sort(m[lab == r]))
    if not regions:
        return float("nan")
    pro = np.zeros(steps)
    for reg in regions:
        pro += 1 - np.searchsorted(reg, th, side="right") / len(reg)
    pro /= len(regions)
    # PRO at each nominal FPR f is taken at the lowest threshold whose real FPR is <= f, so
    # ties among normal pixels (flat maps) cannot collapse the FPR axis.
    return float(np.trapz(pro, fprs) / max_fpr)
