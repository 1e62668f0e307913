"""Hand-computed checks of metrics.py (run by smoke.sh).

Why: the numbers the toolkit reports must be right before anyone compares models by them.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics import aupro, auroc, average_precision, f1_max  # noqa: E402


def close(a, b, tol=1e-9):
    assert abs(a - b) <= tol, (a, b)


# AUROC: pairs (pos, neg) ranked right: (0.35>0.1) (0.8>0.1) (0.8>0.4); wrong: (0.35<0.4) -> 3/4.
close(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75)
close(auroc([0.5, 0.5], [0, 1]), 0.5)  # a tie counts half
# AP: ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): precision at the positives 1/1 and 2/3 -> (1 + 2/3) / 2.
close(average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), (1 + 2 / 3) / 2)
# F1 max: threshold 0.35 -> tp 2, fp 1, fn 0 -> 2*2/(2*2+1) = 0.8.
close(f1_max([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.8)
# AUPRO: a perfect map covers every region at every FPR -> 1; a constant-region map that
# separates nothing covers it only once all normal pixels are also above the threshold.
m = np.zeros((10, 10))
k = np.zeros((10, 10))
k[2:4, 2:4] = 1
k[7:9, 7:9] = 1
close(aupro([m + k], [k]), 1.0, 1e-6)
rng = np.random.RandomState(0)
r = rng.rand(200, 200)
kk = np.zeros((200, 200))
kk[50:150, 50:150] = 1
close(aupro([r], [kk]), 0.15, 0.01)  # random map: PRO = FPR, mean over [0, 0.3] = 0.15
print("test_metrics: OK")
