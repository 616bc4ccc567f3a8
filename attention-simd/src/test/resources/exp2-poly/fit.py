"""Fits the degree-5 polynomial of Micro.exp2: 2^f on [-1/2, 1/2] with constant term 1.

Weighted least squares on the relative error, re-weighted toward the points where the error
is largest (an iterative approximation of the minimax fit); prints the largest relative error
of the float64 fit and of a float32 Horner evaluation with fused multiply-adds, and the
coefficients as Java float literals. Run: python3 fit.py (numpy).
"""
import numpy as np

DEG = 5
f = np.linspace(-0.5, 0.5, 400001)
y = 2.0 ** f
a = np.vstack([f ** k for k in range(1, DEG + 1)]).T
w = np.ones_like(f)
best = None
for _ in range(200):
    c = np.linalg.lstsq(a * (w / y)[:, None], (y - 1) * w / y, rcond=None)[0]
    err = (1 + a @ c - y) / y
    worst = np.abs(err).max()
    if best is None or worst < best[0]:
        best = (worst, c.copy())
    w = w * (1 + np.abs(err) / worst) ** 2
worst, c = best
coef = np.concatenate([[1.0], c]).astype(np.float32)
ff = f.astype(np.float32).astype(np.float64)
p = np.full_like(ff, float(coef[DEG]))
for k in range(DEG - 1, -1, -1):
    # one rounding per fused multiply-add
    p = (p * ff + float(coef[k])).astype(np.float32).astype(np.float64)
err32 = np.abs(p - 2.0 ** ff) / 2.0 ** ff
print("largest relative error: fit %.3g, float32 evaluation %.3g" % (worst, err32.max()))
for k in range(1, DEG + 1):
    print("E%d = %sf" % (k, repr(float(coef[k]))))
