"""Generates the NumPy float64 oracle cases for NumpyOracleTest.

Each case directory holds q/k/v (and optional slopes / lens) .npy inputs in assorted dtypes and
layouts, `args.txt` (the extra `bin/attention run dense` options), and the float64 expectation
`expected_o.npy` / `expected_lse.npy`, computed here straight from SEMANTICS.md with NumPy.
Run from this directory: python3 make_cases.py
"""
import os
import shutil
import numpy as np


def attention(q, k, v, scale=None, causal=False, top_left=False, window=(-1, -1), softcap=0.0,
              slopes=None, kv_lens=None):
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    nb, hq, sq, d = q.shape
    hkv, sk, dv = k.shape[1], k.shape[2], v.shape[3]
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    o = np.zeros((nb, hq, sq, dv))
    lse = np.full((nb, hq, sq), -np.inf)
    i = np.arange(sq)[:, None]
    j = np.arange(sk)[None, :]
    for b in range(nb):
        skb = sk if kv_lens is None else int(kv_lens[b])
        off = 0 if top_left else skb - sq
        vis = np.broadcast_to(j < skb, (sq, sk)).copy()
        if causal:
            vis &= j <= i + off
        if window[0] != -1:
            vis &= i + off - window[0] <= j
        if window[1] != -1:
            vis &= j <= i + off + window[1]
        for h in range(hq):
            g = h // (hq // hkv)
            s = scale * (q[b, h] @ k[b, g].T)
            if softcap > 0:
                s = softcap * np.tanh(s / softcap)
            if slopes is not None:
                s = s - slopes[h] * np.abs(i + off - j)
            s = np.where(vis, s, -np.inf)
            m = s.max(axis=1, keepdims=True)
            rows = np.isfinite(m[:, 0])
            m = np.where(np.isfinite(m), m, 0.0)
            p = np.exp(s - m)
            l = p.sum(axis=1, keepdims=True)
            o[b, h][rows] = (p @ v[b, g])[rows] / l[rows]
            lse[b, h][rows] = (m + np.log(l))[rows, 0]
    return o, lse


def case(name, shapes, dtypes=("<f4", "<f4", "<f4"), args="", fortran=(False, False, False),
         seed=0, **opts):
    rng = np.random.default_rng(seed)
    os.makedirs(name, exist_ok=True)
    arrays = []
    for fname, shape, dt, fo in zip(("q", "k", "v"), shapes, dtypes, fortran):
        x = rng.standard_normal(shape)
        if dt == "bf16":
            bits = (x.astype(np.float32).view(np.uint32) + 0x8000) >> 16  # round half up
            stored = bits.astype("<u2")
            x = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            stored = x.astype(dt)
            x = stored.astype(np.float64)
        if fo:
            stored = np.asfortranarray(stored)
        np.save(os.path.join(name, fname + ".npy"), stored)
        arrays.append(x)
    extra = args
    if opts.get("slopes") is not None:
        np.save(os.path.join(name, "slopes.npy"), opts["slopes"])
        opts["slopes"] = opts["slopes"].astype(np.float64)
        extra += " --alibi slopes.npy"
    if opts.get("kv_lens") is not None:
        np.save(os.path.join(name, "lens.npy"), opts["kv_lens"])
        extra += " --kv-lens lens.npy"
    o, lse = attention(*arrays, **opts)
    np.save(os.path.join(name, "expected_o.npy"), o)
    np.save(os.path.join(name, "expected_lse.npy"), lse)
    with open(os.path.join(name, "args.txt"), "w") as f:
        f.write(extra.strip() + "\n")


for d in [p for p in os.listdir(".") if os.path.isdir(p)]:
    shutil.rmtree(d)
S = ((2, 4, 13, 16), (2, 2, 21, 16), (2, 2, 21, 8))
case("plain", S, seed=1)
case("causal_bottom_right", S, args="--causal", causal=True, seed=2)
case("causal_top_left", S, args="--causal --align top-left", causal=True, top_left=True, seed=3)
case("causal_more_queries_than_keys", ((1, 2, 9, 8), (1, 1, 4, 8), (1, 1, 4, 5)),
     args="--causal", causal=True, seed=4)
case("window", S, args="--window 3,2", window=(3, 2), seed=5)
case("window_causal_top_left", S, args="--window=4,-1 --causal --align=top-left",
     window=(4, -1), causal=True, top_left=True, seed=6)
case("softcap_scale", S, args="--softcap 2.5 --scale 0.7", softcap=2.5, scale=0.7, seed=7)
case("alibi_f8_causal", S, args="--causal", causal=True,
     slopes=np.array([0.5, 0.25, 0.125, 0.0625], "<f8"), seed=8)
case("kvlens_i4_causal", S, args="--causal", causal=True,
     kv_lens=np.array([17, 0], "<i4"), seed=9)
case("kvlens_i8_window_alibi_f4", S, args="--window 5,1 --align top-left", window=(5, 1),
     top_left=True, kv_lens=np.array([21, 6], "<i8"),
     slopes=np.array([0.3, 0.2, 0.1, 0.05], "<f4"), seed=10)
case("dtypes_f2_bf16_f8", S, dtypes=("<f2", "bf16", "<f8"), args="--bf16 --causal",
     causal=True, seed=11)
case("big_endian_fortran", S, dtypes=(">f4", ">f8", "<f4"), fortran=(True, False, True),
     args="--softcap 4", softcap=4.0, seed=12)
case("gqa_mqa_dv", ((1, 6, 7, 13), (1, 1, 30, 13), (1, 1, 30, 3)), args="--causal --window 8,0",
     causal=True, window=(8, 0), seed=13)
