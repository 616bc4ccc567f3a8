"""Writes the small example inputs used by the README (run from this directory)."""
import numpy as np

rng = np.random.default_rng(2026)
np.save("q.npy", rng.standard_normal((1, 4, 64, 32)).astype("<f4"))   # [B, Hq, Sq, D]
np.save("k.npy", rng.standard_normal((1, 2, 64, 32)).astype("<f4"))   # [B, Hkv, Sk, D]
np.save("v.npy", rng.standard_normal((1, 2, 64, 32)).astype("<f4"))   # [B, Hkv, Sk, Dv]
np.save("slopes.npy", 2.0 ** (-8.0 * np.arange(1, 5) / 4))            # ALiBi, [Hq]
