#!/usr/bin/env python3
"""Generate qforge's PyTorch golden files (tests/golden/*.bin) with PyTorch 1.13.

Run it with a Python that has torch 1.13 (on the dev box: Debian's python3-torch,
i.e. `/usr/bin/python3 tests/golden/make_golden.py`). It is deterministic (fixed
seeds, one torch thread) and rewrites the four files below atomically (temp file
+ fsync + rename). The files are committed; tests/test_pytorch_golden.cpp only
reads them, so CI needs no torch.

  fake_quant_per_tensor.bin   torch.fake_quantize_per_tensor_affine          (y; dx = dy * mask via autograd)
  fake_quant_per_channel.bin  torch.fake_quantize_per_channel_affine         (y; dx via autograd)
  lsq_per_tensor.bin          torch._fake_quantize_learnable_per_tensor_affine  (y; dx, dscale, dzero_point)
  lsq_per_channel.bin         torch._fake_quantize_learnable_per_channel_affine (y; dx, dscale, dzero_point)

File format (all integers little-endian, no padding or alignment):

  file    := magic "QFGOLDEN" (8 bytes)
             u32 version (= 1)
             u32 n_cases
             u32 meta_len, meta bytes (ASCII "key=value" lines: torch version, op, ...)
             case * n_cases
             end magic "QFGOLEND" (8 bytes)
  case    := u32 name_len, name bytes (ASCII, [A-Za-z0-9_])
             u32 n_fields
             field * n_fields
  field   := u32 key_len, key bytes (ASCII)
             u8 dtype: 'f' float32, 'd' float64, 'i' int32, 'u' uint8
             u8 ndim (0 = scalar)
             i64 dims[ndim]
             prod(dims) elements of dtype, raw little-endian

Fields of every case: x, dy, y, dx (float32, the tensor shape), qmin, qmax (i32
scalars) and
  fake_quant_per_tensor:  scale (f32), zero_point (i32)
  fake_quant_per_channel: scales (f32[C]), zero_points (i32[C]), axis (i32)
  lsq_per_tensor:         scale (f32), zero_point (f32), grad_factor (f32),
                          grad_factor_is_default (i32: 1 when it is
                          float32(1/sqrt(numel*qmax)), so the test may use
                          qforge's default), dscale, dzero_point (f32, torch's),
                          dscale_abs_sum, dzero_point_abs_sum (f64: sum_i |term_i|
                          in float64, terms dy*t for dscale and dy*scale over the
                          clipped elements for dzero_point; numerics.md bounds
                          |d - d_torch| <= 1e-5 * grad_factor * abs_sum)
  lsq_per_channel:        scales, zero_points (f32[C]), axis (i32), grad_factor,
                          grad_factor_is_default (elements per channel), dscale,
                          dzero_point (f32[C]), dscale_abs_sum, dzero_point_abs_sum
                          (f64[C])
hugepos_* cases also carry the numerics.md contract's own results next to torch's
(see below): y_contract, dx_contract (f32, the tensor shape), torch_int64_overflow
(u8, the tensor shape: 1 where one of torch's int64 casts overflows, see
contract_forward() and learnable_overflow()) and, for LSQ,
  dscale_contract, dzero_point_contract      (f32: g * the float64 sum of the
                                             contract's terms, rounded once)
  dscale_torch_excl, dzero_point_torch_excl  (f32: torch's, run again with dy = 0
                                             where torch_int64_overflow is 1)
  dscale_contract_excl, dzero_point_contract_excl, dscale_abs_sum_excl,
  dzero_point_abs_sum_excl                   (the same with that dy)

Inputs are float32 and finite (NaN/Inf differ from PyTorch by design, see
docs/numerics.md). Case names: randn<n>_* / randn_<shape>_* normal data,
edges_* crafted values (ties, range boundaries +-1 ulp, 0.49999997 products,
+-0, denormals, clipped values), hugeneg_* finite x with x*inv <= -2^31 .. -2^64
and -inf (PyTorch agrees with the contract there), and hugepos_*, the one
documented deviation:
  hugepos_*  finite x with x*inv >= 2^31 .. 2^64 and +inf (float overflow).
             PyTorch's fake-quant forward (also the LSQ forward) casts
             z + nearbyint(x*inv) to int64, which is undefined behaviour from
             2^63 on (x86 gives INT64_MIN, so a huge POSITIVE value quantizes to
             qmin); its learnable backward casts nearbyint(z + x*inv) to int64
             too (such an element then counts as below the range in dscale).
             qforge saturates instead (y = (qmax - z) * s, mask 0; LSQ: above
             the range), as numerics.md specifies. These cases store the
             contract's results (y_contract, ...) next to torch's; the test
             compares qforge with the contract and torch with the contract
             everywhere except where torch's int64 cast overflows.

The torch kernels are pinned to PyTorch's generic build (ATEN_CPU_CAPABILITY=
default, "CPU capability usage: NO AVX"), which computes the formulas as its
source writes them, like the numerics.md contract (no FMA contraction); see
CONTRACT_CAPABILITY below. ATEN_CPU_CAPABILITY=avx2 / avx512 in the environment
overrides it (for experiments: those files disagree with the contract at some
near-ties); the capability used is recorded in each file's meta.
"""

import math
import os
import struct
import sys

import numpy as np

# PyTorch picks its CPU kernel build (default / avx2 / avx512) at startup; pin it so the
# files do not depend on the host CPU. The contract (docs/numerics.md) is the formulas
# as PyTorch's source writes them, evaluated in float32 without FMA contraction, and
# only PyTorch's generic build ("default") computes them that way: its AVX2 / AVX-512
# builds are compiled with FMA, and GCC contracts the learnable (LSQ) backward's
# nearbyint(z + x*inv) and (q - z)*s - x into fused multiply-adds. Example: s = 1/3
# (0x3eaaaaab, inv = 3), zf = 127.5 (backward z = 128), range [0, 255], x = -42.833336
# (0xc22b5556, x*inv = -128.500008 exactly): generic torch and qforge round x*inv to
# -128.5, so z + x*inv = -0.5 and nearbyint gives -0 (in range: dx = dy); the AVX2
# build's FMA rounds z + x*inv once, to -0.5000076, which gives -1 (clipped: dx = 0,
# dscale and dzero_point get the clipped terms).
CONTRACT_CAPABILITY = "default"
os.environ.setdefault("ATEN_CPU_CAPABILITY", CONTRACT_CAPABILITY)
CAPABILITY = os.environ["ATEN_CPU_CAPABILITY"].lower()
import torch  # noqa: E402

assert torch.__version__.startswith("1.13"), f"need torch 1.13, found {torch.__version__}"
_EXPECTED = {"avx2": "AVX2", "avx512": "AVX512", "default": "NO AVX"}[CAPABILITY]
assert f"CPU capability usage: {_EXPECTED}\n" in torch.__config__.show() + "\n", \
    f"torch did not select the {CAPABILITY} kernels"

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
F32 = np.float32
RANDOM_SIZES = [1, 7, 64, 1000]
LARGE = 20000

torch.set_num_threads(1)
torch.set_flush_denormal(False)


# ----------------------------------------------------------------------------- writing

def _field(key, arr):
    arr = np.asarray(arr)
    code = {np.dtype(np.float32): b"f", np.dtype(np.float64): b"d",
            np.dtype(np.int32): b"i", np.dtype(np.uint8): b"u"}[arr.dtype]
    kb = key.encode("ascii")
    out = struct.pack("<I", len(kb)) + kb + code + struct.pack("<B", arr.ndim)
    out += b"".join(struct.pack("<q", d) for d in arr.shape)
    return out + np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.strip()
    return "unknown"


def write_golden(file_name, op, gen):
    CURRENT_OP[0] = op
    cases = gen()
    meta = (f"torch={torch.__version__}\nop={op}\n"
            f"aten_cpu_capability={CAPABILITY}\nconfig={_cpu_capability()}\n"
            "generator=tests/golden/make_golden.py\n").encode("ascii")
    parts = [b"QFGOLDEN", struct.pack("<III", 1, len(cases), len(meta)), meta]
    names = set()
    for name, fields in cases:
        assert name not in names, name
        assert all(c.isalnum() or c == "_" for c in name), name
        names.add(name)
        nb = name.encode("ascii")
        parts.append(struct.pack("<I", len(nb)) + nb + struct.pack("<I", len(fields)))
        parts.extend(_field(k, v) for k, v in fields.items())
    parts.append(b"QFGOLEND")
    data = b"".join(parts)
    path = os.path.join(OUT_DIR, file_name)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(f"{file_name}: {len(cases)} cases, {len(data)} bytes")
    return len(data)


# ----------------------------------------------------------------------------- inputs

def inv_of(s):
    return F32(1.0) / F32(s)


def x_for_product(target, s):
    """A float32 x with float32(x * inv) == target exactly if one exists nearby, else the closest."""
    inv = inv_of(s)
    x = F32(np.float64(target) / np.float64(inv))
    best = x
    for direction in (np.inf, -np.inf):
        c = x
        for _ in range(16):
            if F32(c * inv) == F32(target):
                return c
            c = np.nextafter(c, F32(direction))
    return best


def edge_values(s, z, qmin, qmax):
    """Crafted values for one (scale, integer zero point, range), float32."""
    v = [0.0, -0.0, 1e-40, -1e-40, 1.4e-45, -1.4e-45, 1.1754944e-38, -1.1754944e-38]
    targets = []
    for k in [0, 1, 2, 3, 6, 17, 100]:                      # ties at +-0.5, +-1.5, ...
        targets += [k + 0.5, -(k + 0.5)]
    lo, hi = qmin - z, qmax - z                             # range bounds in units of scale
    for b in (lo, hi):
        targets += [b, b - 0.5, b + 0.5, b - 1, b + 1]
    half_below = float(np.nextafter(F32(0.5), F32(0)))      # 0.49999997
    targets += [half_below, -half_below, lo - half_below, hi + half_below,
                float(np.nextafter(F32(0.5), F32(1))), -float(np.nextafter(F32(0.5), F32(1)))]
    for t in targets:
        x = x_for_product(t, s)
        v += [x, np.nextafter(x, F32(np.inf)), np.nextafter(x, F32(-np.inf))]
    # Exactly on / one ulp past the boundaries written as (q - z) * s.
    for q in (qmin, qmax):
        x = F32(F32(q - z) * F32(s))
        v += [x, np.nextafter(x, F32(np.inf)), np.nextafter(x, F32(-np.inf))]
    v += [F32((hi + 40) * s), F32((lo - 40) * s), 1e6, -1e6]  # clipped, moderate
    out = np.array(v, dtype=F32)
    assert np.all(np.isfinite(out))
    return out


def huge_values(s, positive):
    inv = inv_of(s)
    sign = 1.0 if positive else -1.0
    vals = [1e30, 3e38, 3.4028235e38, 1e20, 1e10, 2.1e9]
    for p in (31, 62, 63, 64):                              # x*inv around 2^31 .. 2^64
        x = F32(sign * 2.0 ** p / float(inv))
        vals += [abs(float(x)), abs(float(np.nextafter(x, F32(0))))]
    out = np.array([sign * abs(v) for v in vals], dtype=F32)
    assert np.all(np.isfinite(out))
    return out


def random_q_units(rng, n, qmin, qmax, z):
    """Normal data in units of scale around the middle of the range; ~20% clipped."""
    mid = 0.5 * (qmin + qmax)
    return rng.standard_normal(n) * 0.4 * (qmax - qmin + 1) + mid - z


def make_dy(rng, n, clipped, special=False):
    dy = rng.standard_normal(n).astype(F32)
    idx = np.flatnonzero(clipped)
    dy[idx[::2]] = -np.abs(dy[idx[::2]]) - F32(0.25)         # negative dy where mask = 0: dx = -0.0
    if special and n >= 4:
        dy[1] = F32(-0.0)
        dy[2] = F32(0.0)
    return dy


INT64_LIMIT = 2.0 ** 63


def contract_forward(x, s, z, qmin, qmax):
    """numerics.md forward in float32: y, mask, and where PyTorch's int64 cast overflows.

    PyTorch 1.13 computes qval = int64(z + nearbyint(x * inv)) (int64 + float is a float
    sum); the cast is undefined behaviour when that float is not finite or is outside
    [-2^63, 2^63). qf below is the same float, so `overflow` marks exactly those elements."""
    inv = inv_of(s)
    with np.errstate(over="ignore", invalid="ignore"):
        qf = np.rint((x * inv).astype(F32)) + F32(z)
    q = np.clip(qf, F32(qmin), F32(qmax)).astype(F32)
    y = ((q - F32(z)).astype(F32) * F32(s)).astype(F32)
    mask = (qf >= qmin) & (qf <= qmax)
    overflow = ~np.isfinite(qf) | (qf >= F32(INT64_LIMIT)) | (qf < -F32(INT64_LIMIT))
    return y, mask, overflow


def backward_xq(x, inv, z):
    """xq of the learnable backward as numerics.md (and PyTorch's generic build) computes it:
    nearbyint(float(z) + x * inv), the product rounded to float32 before z is added."""
    x, inv, z = np.broadcast_arrays(np.asarray(x, F32), np.asarray(inv, F32), np.asarray(z, F32))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.rint((z + (x * inv).astype(F32)).astype(F32)).ravel()


def learnable_overflow(x, inv, z):
    """Where PyTorch 1.13's learnable backward casts out of int64 range: it computes
    xqi = int64(nearbyint(z + x * inv)) (undefined behaviour for a non-finite float or
    one outside [-2^63, 2^63)), then uses xqi for the mask and the dscale term."""
    xq = backward_xq(x, inv, z)
    return ~np.isfinite(xq) | (xq >= F32(INT64_LIMIT)) | (xq < -F32(INT64_LIMIT))


def learnable_abs_terms(x, dy, xq, s, z, qmin, qmax):
    """|dy*t| and |dy*s| over clipped elements, float64, from the backward's xq."""
    inv = inv_of(s)
    xq = xq.astype(np.float64)
    inside = (xq >= qmin) & (xq <= qmax)
    xd, dyd, sd = x.astype(np.float64), dy.astype(np.float64), float(F32(s))
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.clip(xq, qmin, qmax)
        t = np.where(inside, ((q - z) * sd - xd) * float(inv), np.where(xq < qmin, qmin - z, qmax - z))
    return np.abs(dyd * t), np.where(inside, 0.0, np.abs(dyd * sd))


def contract_learnable_sums(x, dy, xq, s, z, qmin, qmax, g):
    """numerics.md's dscale, dzero_point: per-element t in float32 as the contract writes it,
    summed in float64, times g, rounded to float32 once."""
    inv, s32, z32 = inv_of(s), F32(s), F32(z)
    inside = (xq >= qmin) & (xq <= qmax)
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.clip(xq, F32(qmin), F32(qmax)).astype(F32)
        t_in = ((((q - z32).astype(F32) * s32).astype(F32) - x).astype(F32) * inv).astype(F32)
    t = np.where(inside, t_in, np.where(xq < qmin, F32(qmin - z), F32(qmax - z))).astype(np.float64)
    dyd = dy.astype(np.float64)
    ds = float(g) * float(np.sum(dyd * t))
    dz = float(g) * float(np.sum(np.where(inside, 0.0, -dyd * float(s32))))
    return F32(ds), F32(dz)


def bits(a):
    return np.ascontiguousarray(a, dtype=F32).view(np.uint32)


SELF_CHECK = []
DEVIATIONS = []
CURRENT_OP = [""]  # for the messages above


def note(case, what, got, want, excused=None):
    """Record where torch's `got` differs from the contract's `want`; `excused` marks the
    elements where torch's int64 cast overflows (the documented hugepos_* deviation)."""
    differs = bits(got).ravel() != bits(want).ravel()
    if excused is not None:
        n_excused = int(np.count_nonzero(differs & excused.ravel()))
        if n_excused:
            DEVIATIONS.append(f"{CURRENT_OP[0]} {case}: torch {what} differs from the contract at {n_excused} elements, "
                              f"all where torch's int64 cast overflows")
        differs &= ~excused.ravel()
    diff = np.flatnonzero(differs)
    if diff.size:
        SELF_CHECK.append(f"{CURRENT_OP[0]} {case}: torch {what} differs from the numerics.md emulation at "
                          f"{diff.size} elements (first index {diff[0]})")


def r32(v):
    """float32 rounding of a Python number, back as a Python float (exact in torch's double args)."""
    return float(F32(v))


# ----------------------------------------------------------------------------- torch

def torch_fq_per_tensor(x, dy, s, z, qmin, qmax):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y = torch.fake_quantize_per_tensor_affine(xt, float(F32(s)), int(z), int(qmin), int(qmax))
    y.backward(torch.from_numpy(dy.copy()))
    return y.detach().numpy().copy(), xt.grad.numpy().copy()


def torch_fq_per_channel(x, dy, scales, zps, axis, qmin, qmax):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(scales.copy()),
                                               torch.from_numpy(zps.copy()), axis, qmin, qmax)
    y.backward(torch.from_numpy(dy.copy()))
    return y.detach().numpy().copy(), xt.grad.numpy().copy()


def torch_lsq_per_tensor(x, dy, s, zf, qmin, qmax, g):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    st = torch.tensor([s], dtype=torch.float32, requires_grad=True)
    zt = torch.tensor([zf], dtype=torch.float32, requires_grad=True)
    y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, g)
    y.backward(torch.from_numpy(dy.copy()))
    return (y.detach().numpy().copy(), xt.grad.numpy().copy(),
            F32(st.grad.numpy()[0]), F32(zt.grad.numpy()[0]))


def torch_lsq_per_channel(x, dy, scales, zfs, axis, qmin, qmax, g):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    st = torch.from_numpy(scales.copy()).requires_grad_(True)
    zt = torch.from_numpy(zfs.copy()).requires_grad_(True)
    y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, axis, qmin, qmax, g)
    y.backward(torch.from_numpy(dy.copy()))
    return (y.detach().numpy().copy(), xt.grad.numpy().copy(),
            st.grad.numpy().astype(F32).copy(), zt.grad.numpy().astype(F32).copy())


# ----------------------------------------------------------------------------- parameters

S_LIST = [0.1, 1.0 / 3.0, 0.0173, 2.0, 1e-3]

# (tag, qmin, qmax): 8/4/3/2 bits, signed / unsigned / narrow.
RANGES = {
    "s8": (-128, 127), "u8": (0, 255), "n8": (-127, 127), "nu8": (1, 255),
    "s4": (-8, 7), "u4": (0, 15), "s3": (-4, 3), "u3": (0, 7), "n3": (-3, 3),
    "s2": (-2, 1), "u2": (0, 3),
}

# fake_quant per tensor: (range, scale, zero point)
FQ_PT = [
    ("s8", 0.1, 0), ("u8", 1 / 3, 128), ("u8", 0.0173, 0), ("n8", 0.0173, 0),
    ("s4", 2.0, 0), ("u4", 1e-3, 5), ("s3", 0.1, 3), ("u3", 1 / 3, 3),
    ("s2", 0.0173, -1), ("u2", 2.0, 3), ("s8", 1e-3, -37), ("n3", 0.1, -3),
    ("nu8", 0.1, 128), ("u8", 1 / 3, 255), ("s4", 0.0173, -8), ("u2", 1e-3, 0),
]

# LSQ per tensor: (range, scale, float zero point, grad factor "one" | "default").
# PyTorch's learnable backward requires qmin <= 0 <= qmax, so no "nu8" here.
LSQ_PT = [
    ("s8", 0.1, 0.0, "one"), ("u8", 1 / 3, 127.5, "default"), ("u8", 0.0173, 3.0, "default"),
    ("s4", 2.0, 2.5, "one"), ("s4", 1e-3, -1.5, "default"), ("s3", 0.1, 3.0, "default"),
    ("n3", 1 / 3, -3.0, "one"), ("u2", 0.0173, 3.0, "one"), ("s2", 2.0, 0.5, "default"),
    ("n8", 0.0173, -1.7, "one"), ("u3", 1 / 3, 9.7, "default"), ("s8", 1e-3, -200.0, "one"),
    ("u8", 0.1, 2.5, "default"), ("u4", 0.1, 7.49, "one"), ("s8", 0.0173, 3.0, "one"),
    ("u8", 1 / 3, -1.5, "default"),
]

# Per channel: (shape, axis, range); C = shape[axis] covers 1, 3, 16, 17 on first/middle/last axes.
PC_SHAPES = [
    ((1, 300), 0, "s8"), ((3, 50), 0, "u8"), ((16, 40), 0, "s4"), ((17, 9), 0, "u3"),
    ((4, 16, 5), 1, "n8"), ((2, 17, 3, 4), 1, "s2"), ((2, 3, 1, 7), 2, "u4"), ((5, 3, 8), 1, "s3"),
    ((25, 3), 1, "u2"), ((6, 7, 16), 2, "u8"), ((5, 17), 1, "s8"), ((3, 2, 1), 2, "n3"),
    ((17,), 0, "s4"), ((64, 1), 1, "nu8"),
]
PC_EDGE_SHAPES = [((3, 96), 0, "s8"), ((2, 16, 24), 1, "u4"), ((40, 17), 1, "s3"),
                  ((1, 160), 0, "u8"), ((4, 2, 3, 20), 2, "n3"), ((48, 16), 1, "u2")]
LSQ_PC_EDGE_SHAPES = [((3, 96), 0, "s8"), ((2, 16, 24), 1, "u4"), ((40, 17), 1, "s3"),
                      ((1, 160), 0, "u8"), ((4, 2, 3, 20), 2, "n3"), ((48, 16), 1, "s4")]
PC_LARGE = ((20, 17, 59), 1, "s8")

SPECIAL_ZF = [3.0, 2.5, -1.5, 0.5, -2.5, 1.5, 3.5, -0.5]


def tag_of(v):
    return {0.1: "s0p1", 1 / 3: "s1d3", 0.0173: "s0p0173", 2.0: "s2", 1e-3: "s1em3"}.get(v, "s")


def zp_tag(z):
    s = f"{z:g}".replace("-", "m").replace(".", "p")
    return "z" + s


def channel_params(rng, c, qmin, qmax, float_zp):
    scales = np.array([S_LIST[i % len(S_LIST)] if i < len(S_LIST) else
                       math.exp(rng.uniform(math.log(1e-3), math.log(2.0))) for i in range(c)], dtype=F32)
    rng.shuffle(scales)
    if float_zp:
        zps = []
        for i in range(c):
            if i < len(SPECIAL_ZF):
                zps.append(SPECIAL_ZF[i])
            else:
                zps.append(rng.uniform(qmin - 1.0, qmax + 1.0))
        zps = np.array(zps, dtype=F32)
        rng.shuffle(zps)
    else:
        zps = rng.integers(qmin, qmax + 1, size=c).astype(np.int32)
        zps[0] = qmin
        if c > 1:
            zps[-1] = qmax
        if c > 2:
            zps[1] = 0 if qmin <= 0 <= qmax else qmin
    return scales, zps


def per_channel_view(shape, axis):
    """(outer, C, inner) for moving the channel axis to the middle."""
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, shape[axis], inner


def per_channel_inputs(rng, shape, axis, qmin, qmax, scales, zint, edges):
    outer, c, inner = per_channel_view(shape, axis)
    x3 = np.empty((outer, c, inner), dtype=F32)
    for ch in range(c):
        s, z = float(scales[ch]), int(zint[ch])
        vals = (random_q_units(rng, outer * inner, qmin, qmax, z) * s).astype(F32)
        if edges:
            e = edge_values(s, z, qmin, qmax)
            rng.shuffle(e)
            k = min(len(e), vals.size)
            pos = rng.permutation(vals.size)[:k]
            vals[pos] = e[:k]
        x3[:, ch, :] = vals.reshape(outer, inner)
    return x3.reshape(shape)


def channel_broadcast(v, shape, axis):
    bshape = [1] * len(shape)
    bshape[axis] = shape[axis]
    return np.broadcast_to(np.asarray(v).reshape(bshape), shape)


# ----------------------------------------------------------------------------- cases

def fq_pt_case(name, x, s, z, qmin, qmax, rng, special=False, deviation=False):
    """deviation: a hugepos_* case; also store the contract's y, dx (torch's differ where its int64 cast overflows)."""
    ye, me, overflow = contract_forward(x, s, z, qmin, qmax)
    dy = make_dy(rng, x.size, ~me.ravel(), special).reshape(x.shape)
    y, dx = torch_fq_per_tensor(x, dy, s, z, qmin, qmax)
    dxe = (dy * me.astype(F32)).astype(F32)
    excused = overflow if deviation else None
    note(name, "y", y, ye, excused)
    note(name, "dx", dx, dxe, excused)
    fields = {"x": x, "dy": dy, "y": y, "dx": dx, "scale": F32(s), "zero_point": np.int32(z),
              "qmin": np.int32(qmin), "qmax": np.int32(qmax)}
    if deviation:
        fields.update({"y_contract": ye, "dx_contract": dxe, "torch_int64_overflow": overflow.astype(np.uint8)})
    return name, fields


def gen_fq_per_tensor():
    rng = np.random.default_rng(1301)
    cases = []
    for i, (rt, s, z) in enumerate(FQ_PT):
        qmin, qmax = RANGES[rt]
        base = f"{rt}_{tag_of(s)}_{zp_tag(z)}"
        n = RANDOM_SIZES[i % 4]
        x = (random_q_units(rng, n, qmin, qmax, z) * F32(s)).astype(F32)
        cases.append(fq_pt_case(f"randn{n}_{base}", x, s, z, qmin, qmax, rng))
        if i % 4 == 0:
            x = (random_q_units(rng, 1000, qmin, qmax, z) * F32(s)).astype(F32)
            cases.append(fq_pt_case(f"randn1000_{base}", x, s, z, qmin, qmax, rng))
        e = edge_values(s, z, qmin, qmax)
        cases.append(fq_pt_case(f"edges_{base}", e, s, z, qmin, qmax, rng, special=True))
    for (rt, s, z) in [("s8", 0.1, 0), ("u4", 1 / 3, 5)]:
        qmin, qmax = RANGES[rt]
        base = f"{rt}_{tag_of(s)}_{zp_tag(z)}"
        cases.append(fq_pt_case(f"hugeneg_{base}", huge_values(s, False), s, z, qmin, qmax, rng))
        cases.append(fq_pt_case(f"hugepos_{base}", huge_values(s, True), s, z, qmin, qmax, rng,
                                deviation=True))
    qmin, qmax = RANGES["s8"]
    x = (random_q_units(rng, LARGE, qmin, qmax, 3) * F32(0.0173)).astype(F32).reshape(100, 200)
    cases.append(fq_pt_case("randn20000_s8_s0p0173_z3", x, 0.0173, 3, qmin, qmax, rng))
    return cases


def fq_pc_case(name, shape, axis, qmin, qmax, scales, zps, rng, edges):
    x = per_channel_inputs(rng, shape, axis, qmin, qmax, scales, zps, edges)
    sb, zb = channel_broadcast(scales, shape, axis), channel_broadcast(zps, shape, axis)
    inv = (F32(1) / sb).astype(F32)
    qf = np.rint((x * inv).astype(F32)) + zb.astype(F32)
    mask = (qf >= qmin) & (qf <= qmax)
    dy = make_dy(rng, x.size, ~mask.ravel(), edges).reshape(shape)
    y, dx = torch_fq_per_channel(x, dy, scales, zps, axis, qmin, qmax)
    ye = ((np.clip(qf, qmin, qmax).astype(F32) - zb.astype(F32)).astype(F32) * sb).astype(F32)
    note(name, "y", y, ye)
    note(name, "dx", dx, (dy * mask.astype(F32)).astype(F32))
    return name, {"x": x, "dy": dy, "y": y, "dx": dx, "scales": scales, "zero_points": zps,
                  "axis": np.int32(axis), "qmin": np.int32(qmin), "qmax": np.int32(qmax)}


def shape_tag(shape, axis):
    return "x".join(str(d) for d in shape) + f"_axis{axis}"


def gen_fq_per_channel():
    rng = np.random.default_rng(1302)
    cases = []
    for shape, axis, rt in PC_SHAPES:
        qmin, qmax = RANGES[rt]
        scales, zps = channel_params(rng, shape[axis], qmin, qmax, False)
        cases.append(fq_pc_case(f"randn_{shape_tag(shape, axis)}_{rt}", shape, axis, qmin, qmax,
                                scales, zps, rng, False))
    for shape, axis, rt in PC_EDGE_SHAPES:
        qmin, qmax = RANGES[rt]
        scales, zps = channel_params(rng, shape[axis], qmin, qmax, False)
        cases.append(fq_pc_case(f"edges_{shape_tag(shape, axis)}_{rt}", shape, axis, qmin, qmax,
                                scales, zps, rng, True))
    shape, axis, rt = PC_LARGE
    qmin, qmax = RANGES[rt]
    scales, zps = channel_params(rng, shape[axis], qmin, qmax, False)
    cases.append(fq_pc_case(f"randn_{shape_tag(shape, axis)}_{rt}", shape, axis, qmin, qmax,
                            scales, zps, rng, False))
    return cases


def lsq_zero_points(zf, qmin, qmax):
    """(forward z, per-tensor backward z) as numerics.md / PyTorch 1.13 round them."""
    zf = F32(zf)
    zfwd = int(min(max(np.rint(zf), F32(qmin)), F32(qmax)))
    zbwd = int(min(max(F32(zf + F32(0.5)), F32(qmin)), F32(qmax)))
    return zfwd, zbwd


def default_g(n, qmax):
    return r32(1.0 / math.sqrt(float(n) * qmax))


def lsq_pt_case(name, x, s, zf, qmin, qmax, gmode, rng, special=False, deviation=False):
    """deviation: a hugepos_* case; also store the contract's y, dx, dscale, dzero_point."""
    zfwd, zbwd = lsq_zero_points(zf, qmin, qmax)
    g = 1.0 if gmode == "one" else default_g(x.size, qmax)
    xq = backward_xq(x.ravel(), inv_of(s), F32(zbwd))
    inside = (xq >= qmin) & (xq <= qmax)
    dy = make_dy(rng, x.size, ~inside, special).reshape(x.shape)
    y, dx, ds, dz = torch_lsq_per_tensor(x, dy, r32(s), r32(zf), qmin, qmax, g)
    ye, _, overflow = contract_forward(x, s, zfwd, qmin, qmax)
    overflow = overflow.ravel() | learnable_overflow(x.ravel(), inv_of(s), F32(zbwd))
    dxe = (dy.ravel() * inside.astype(F32)).astype(F32).reshape(x.shape)
    excused = overflow if deviation else None
    note(name, "y", y, ye, excused)
    note(name, "dx", dx, dxe, excused)
    ts, tz = learnable_abs_terms(x.ravel(), dy.ravel(), xq, s, zbwd, qmin, qmax)
    fields = {"x": x, "dy": dy, "y": y, "dx": dx, "scale": F32(s), "zero_point": F32(zf),
              "qmin": np.int32(qmin), "qmax": np.int32(qmax), "grad_factor": F32(g),
              "grad_factor_is_default": np.int32(gmode == "default"),
              "dscale": F32(ds), "dzero_point": F32(dz),
              "dscale_abs_sum": np.float64(ts.sum()), "dzero_point_abs_sum": np.float64(tz.sum())}
    if deviation:
        dse, dze = contract_learnable_sums(x.ravel(), dy.ravel(), xq, s, zbwd, qmin, qmax, g)
        # dscale and dzero_point are sums: compare torch's with the contract's over the
        # elements where no int64 cast overflows, by running torch again with dy = 0 elsewhere.
        dy_excl = np.where(overflow.reshape(x.shape), F32(0), dy).astype(F32)
        _, _, ds_t, dz_t = torch_lsq_per_tensor(x, dy_excl, r32(s), r32(zf), qmin, qmax, g)
        ds_c, dz_c = contract_learnable_sums(x.ravel(), dy_excl.ravel(), xq, s, zbwd, qmin, qmax, g)
        ts_x, tz_x = learnable_abs_terms(x.ravel(), dy_excl.ravel(), xq, s, zbwd, qmin, qmax)
        for what, full, part, f_c, p_c, a_full, a_part in (
                ("dscale", ds, ds_t, dse, ds_c, ts.sum(), ts_x.sum()),
                ("dzero_point", dz, dz_t, dze, dz_c, tz.sum(), tz_x.sum())):
            if abs(float(part) - float(p_c)) > 1e-5 * g * a_part:
                SELF_CHECK.append(f"{CURRENT_OP[0]} {name}: torch {what} differs from the contract's "
                                  f"beyond the bound even with dy = 0 where its int64 cast overflows")
            if abs(float(full) - float(f_c)) > 1e-5 * g * a_full:
                DEVIATIONS.append(f"{CURRENT_OP[0]} {name}: torch {what} {float(full)!r} differs from the "
                                  f"contract's {float(f_c)!r}, within the bound once dy = 0 where its int64 "
                                  f"cast overflows")
        fields.update({"y_contract": ye, "dx_contract": dxe,
                       "torch_int64_overflow": overflow.astype(np.uint8).reshape(x.shape),
                       "dscale_contract": dse, "dzero_point_contract": dze,
                       "dscale_torch_excl": F32(ds_t), "dzero_point_torch_excl": F32(dz_t),
                       "dscale_contract_excl": ds_c, "dzero_point_contract_excl": dz_c,
                       "dscale_abs_sum_excl": np.float64(ts_x.sum()),
                       "dzero_point_abs_sum_excl": np.float64(tz_x.sum())})
    return name, fields


def gen_lsq_per_tensor():
    rng = np.random.default_rng(1303)
    cases = []
    for i, (rt, s, zf, gmode) in enumerate(LSQ_PT):
        qmin, qmax = RANGES[rt]
        zfwd, zbwd = lsq_zero_points(zf, qmin, qmax)
        base = f"{rt}_{tag_of(s)}_{zp_tag(zf)}_g{gmode}"
        n = RANDOM_SIZES[i % 4]
        x = (random_q_units(rng, n, qmin, qmax, zfwd) * F32(s)).astype(F32)
        cases.append(lsq_pt_case(f"randn{n}_{base}", x, s, zf, qmin, qmax, gmode, rng))
        if i % 4 == 0:
            x = (random_q_units(rng, 1000, qmin, qmax, zfwd) * F32(s)).astype(F32)
            cases.append(lsq_pt_case(f"randn1000_{base}", x, s, zf, qmin, qmax, gmode, rng))
        e = edge_values(s, zfwd, qmin, qmax)
        if zbwd != zfwd:
            e = np.concatenate([e, edge_values(s, zbwd, qmin, qmax)])
        cases.append(lsq_pt_case(f"edges_{base}", e, s, zf, qmin, qmax, gmode, rng, special=True))
    for (rt, s, zf) in [("s8", 0.1, 0.0), ("u4", 1 / 3, 2.5)]:
        qmin, qmax = RANGES[rt]
        base = f"{rt}_{tag_of(s)}_{zp_tag(zf)}"
        cases.append(lsq_pt_case(f"hugeneg_{base}", huge_values(s, False), s, zf, qmin, qmax, "one", rng))
        cases.append(lsq_pt_case(f"hugepos_{base}", huge_values(s, True), s, zf, qmin, qmax, "one", rng,
                                 deviation=True))
    qmin, qmax = RANGES["u8"]
    x = (random_q_units(rng, LARGE, qmin, qmax, 130) * F32(0.0173)).astype(F32).reshape(40, 500)
    cases.append(lsq_pt_case("randn20000_u8_s0p0173_z130p4_gdefault", x, 0.0173, 130.4, qmin, qmax,
                             "default", rng))
    return cases


def lsq_pc_case(name, shape, axis, qmin, qmax, scales, zfs, gmode, rng, special):
    c = shape[axis]
    zint = np.array([lsq_zero_points(z, qmin, qmax)[0] for z in zfs], dtype=np.int32)
    x = per_channel_inputs(rng, shape, axis, qmin, qmax, scales, zint, special)
    g = 1.0 if gmode == "one" else default_g(x.size // c, qmax)
    sb, zb = channel_broadcast(scales, shape, axis), channel_broadcast(zint, shape, axis)
    inv = (F32(1) / sb).astype(F32)
    xq = backward_xq(x, inv, zb.astype(F32)).reshape(shape)
    inside = (xq >= qmin) & (xq <= qmax)
    dy = make_dy(rng, x.size, ~inside.ravel(), special).reshape(shape)
    y, dx, ds, dz = torch_lsq_per_channel(x, dy, scales, zfs, axis, qmin, qmax, g)
    qf = np.rint((x * inv).astype(F32)) + zb.astype(F32)
    ye = ((np.clip(qf, qmin, qmax).astype(F32) - zb.astype(F32)).astype(F32) * sb).astype(F32)
    note(name, "y", y, ye)
    note(name, "dx", dx, (dy * inside.astype(F32)).astype(F32))
    outer, _, inner = per_channel_view(shape, axis)
    x3, dy3, xq3 = x.reshape(outer, c, inner), dy.reshape(outer, c, inner), xq.reshape(outer, c, inner)
    ts_sum, tz_sum = np.zeros(c), np.zeros(c)
    for ch in range(c):
        ts, tz = learnable_abs_terms(x3[:, ch, :].ravel(), dy3[:, ch, :].ravel(), xq3[:, ch, :].ravel(),
                                     float(scales[ch]), int(zint[ch]), qmin, qmax)
        ts_sum[ch], tz_sum[ch] = ts.sum(), tz.sum()
    return name, {"x": x, "dy": dy, "y": y, "dx": dx, "scales": scales, "zero_points": zfs,
                  "axis": np.int32(axis), "qmin": np.int32(qmin), "qmax": np.int32(qmax),
                  "grad_factor": F32(g), "grad_factor_is_default": np.int32(gmode == "default"),
                  "dscale": ds, "dzero_point": dz,
                  "dscale_abs_sum": ts_sum, "dzero_point_abs_sum": tz_sum}


def gen_lsq_per_channel():
    rng = np.random.default_rng(1304)
    cases = []
    for i, (shape, axis, rt) in enumerate(PC_SHAPES):
        rt = "u8" if rt == "nu8" else rt  # the learnable backward requires qmin <= 0 <= qmax
        shape = (17, 1) if shape == (17,) else shape  # its backward fails on 1-D inputs (sums to a scalar)
        qmin, qmax = RANGES[rt]
        gmode = "one" if i % 2 else "default"
        scales, zfs = channel_params(rng, shape[axis], qmin, qmax, True)
        cases.append(lsq_pc_case(f"randn_{shape_tag(shape, axis)}_{rt}_g{gmode}", shape, axis, qmin, qmax,
                                 scales, zfs, gmode, rng, False))
    for i, (shape, axis, rt) in enumerate(LSQ_PC_EDGE_SHAPES):
        qmin, qmax = RANGES[rt]
        gmode = "default" if i % 2 else "one"
        scales, zfs = channel_params(rng, shape[axis], qmin, qmax, True)
        cases.append(lsq_pc_case(f"edges_{shape_tag(shape, axis)}_{rt}_g{gmode}", shape, axis, qmin, qmax,
                                 scales, zfs, gmode, rng, True))
    shape, axis, rt = PC_LARGE
    qmin, qmax = RANGES[rt]
    scales, zfs = channel_params(rng, shape[axis], qmin, qmax, True)
    cases.append(lsq_pc_case(f"randn_{shape_tag(shape, axis)}_{rt}_gdefault", shape, axis, qmin, qmax,
                             scales, zfs, "default", rng, False))
    return cases


def main():
    total = 0
    total += write_golden("fake_quant_per_tensor.bin", "fake_quantize_per_tensor_affine", gen_fq_per_tensor)
    total += write_golden("fake_quant_per_channel.bin", "fake_quantize_per_channel_affine", gen_fq_per_channel)
    total += write_golden("lsq_per_tensor.bin", "_fake_quantize_learnable_per_tensor_affine", gen_lsq_per_tensor)
    total += write_golden("lsq_per_channel.bin", "_fake_quantize_learnable_per_channel_affine",
                          gen_lsq_per_channel)
    print(f"total {total} bytes, torch kernels: ATEN_CPU_CAPABILITY={CAPABILITY}")
    if CAPABILITY != CONTRACT_CAPABILITY:
        print(f"warning: the contract is torch's {CONTRACT_CAPABILITY} build; these files were made with "
              f"{CAPABILITY} and may disagree with it (FMA contraction in the learnable backward)")
    for line in DEVIATIONS:
        print("documented deviation (torch int64 overflow, UB):", line)
    for line in SELF_CHECK:
        print("self-check:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
