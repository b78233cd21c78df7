#!/usr/bin/env python3
"""qforge's CUDA kernels next to PyTorch on the same GPU, in one run.

    python3 bench/cuda_compare.py BUILD/bench/bench_cuda [--out FILE.json]

Runs bench_cuda (the Halide kernels; see bench/bench_cuda.cpp for what each
row moves or computes), then the same shapes in PyTorch where it is installed
with CUDA: a device-to-device copy (the GPU's copy bandwidth), torch's fake
quantization and LSQ backward (aten's CUDA kernels), torch._int_mm (cuBLASLt
int8), and float32 GEMM, conv and batch norm with TF32 off (cuBLAS / cuDNN in
true float32, the arithmetic qforge's kernels do). Prints one table with
qforge / peer ratios (higher is better for qforge) and writes it as JSON.

Timing of the PyTorch side: CUDA events around each call, one warm-up call,
then the median of 21 calls, like bench_cuda.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPS = 21


def run_qforge(binary):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "qforge.json")
        proc = subprocess.run([binary, "--json", out, "--repetitions", str(REPS)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        print(proc.stdout, end="")
        if proc.returncode == 77:
            sys.exit(f"cuda_compare: {binary} found no CUDA device (SKIPPED)")
        if proc.returncode != 0:
            sys.exit(f"cuda_compare: {binary} failed (exit {proc.returncode})")
        with open(out) as f:
            return json.load(f)


def median_ms(torch, fn):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def torch_peers():
    """{(op, shape): (peer name, value in the row's unit)} for what PyTorch can run here."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("cuda_compare: no PyTorch here: qforge's rows only")
        return {}, None
    if not torch.cuda.is_available():
        print("cuda_compare: PyTorch sees no CUDA device: qforge's rows only")
        return {}, None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    peers = {}
    gen = torch.Generator(device=dev).manual_seed(0)

    def gbps(nbytes, ms):
        return nbytes / (ms * 1e-3) / 1e9

    def tops(ops, ms):
        return ops / (ms * 1e-3) / 1e12

    n = 64 << 20
    shape = f"{n >> 20}Mi f32"
    x = torch.rand(n, device=dev, generator=gen) * 16 - 8
    dy = torch.rand(n, device=dev, generator=gen) * 2 - 1
    y = torch.empty_like(x)
    peers[("stream_copy", shape)] = ("torch copy_ (device to device)", gbps(8 * n, median_ms(torch, lambda: y.copy_(x))))
    peers[("fake_quant_pt", shape)] = (
        "torch.fake_quantize_per_tensor_affine",
        gbps(8 * n, median_ms(torch, lambda: torch.fake_quantize_per_tensor_affine(x, 0.05, 3, 0, 255))))
    peers[("fake_quant_pt_mask", shape)] = (
        "aten fake_quantize_per_tensor_affine_cachemask",
        gbps(9 * n, median_ms(torch, lambda: torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(
            x, 0.05, 3, 0, 255))))
    scale = torch.tensor([0.05], device=dev)
    zp = torch.tensor([0.0], device=dev)
    g = 1.0 / (n * 127.0) ** 0.5
    peers[("lsq_backward_pt", shape)] = (
        "aten _fake_quantize_learnable_per_tensor_affine_backward",
        gbps(12 * n, median_ms(torch, lambda: torch.ops.aten._fake_quantize_learnable_per_tensor_affine_backward(
            dy, x, scale, zp, -128, 127, g))))
    x3 = x.view(n // (1024 * 256), 256, 1024)
    scales = torch.full((256,), 0.05, device=dev)
    zps = torch.zeros(256, dtype=torch.int32, device=dev)
    peers[("fake_quant_pc", shape + " C=256")] = (
        "torch.fake_quantize_per_channel_affine",
        gbps(8 * n, median_ms(torch, lambda: torch.fake_quantize_per_channel_affine(x3, scales, zps, 1, -128, 127))))
    del x, dy, y, x3

    for m, nn_, k in [(1024, 1024, 1024), (4096, 4096, 4096), (1, 4096, 4096), (64, 4096, 4096)]:
        key = ("gemm_int8_s32", f"{m}x{nn_}x{k}")
        m_run = max(m, 17)  # torch._int_mm needs M > 16: a GEMV row is timed at M = 17
        a = torch.randint(-128, 127, (m_run, k), dtype=torch.int8, device=dev, generator=gen)
        b = torch.randint(-128, 127, (k, nn_), dtype=torch.int8, device=dev, generator=gen)
        ms = median_ms(torch, lambda: torch._int_mm(a, b))
        peers[key] = ("torch._int_mm (cuBLASLt)" + (" at M=17" if m_run != m else ""), tops(2.0 * m_run * nn_ * k, ms))
    for s in (1024, 4096):
        a = torch.rand(s, s, device=dev, generator=gen)
        b = torch.rand(s, s, device=dev, generator=gen)
        peers[("sgemm_f32", f"{s}x{s}x{s}")] = (
            "torch.mm fp32 (TF32 off)", tops(2.0 * s ** 3, median_ms(torch, lambda: torch.mm(a, b))))
    for nb, h, c, o, kh in [(32, 56, 64, 64, 3), (256, 14, 32, 64, 5)]:
        xin = torch.rand(nb, c, h, h, device=dev, generator=gen).to(memory_format=torch.channels_last)
        w = torch.rand(o, c, kh, kh, device=dev, generator=gen).to(memory_format=torch.channels_last)
        ms = median_ms(torch, lambda: F.conv2d(xin, w, padding=kh // 2))
        peers[("conv2d_f32", f"N{nb} {h}x{h} {c}->{o} {kh}x{kh}")] = (
            "cuDNN conv2d fp32 NHWC (TF32 off)", tops(2.0 * nb * h * h * o * c * kh * kh, ms))
    nb, h, c = 32, 56, 64
    xin = torch.rand(nb, c, h, h, device=dev, generator=gen).to(memory_format=torch.channels_last)
    gamma, beta = torch.ones(c, device=dev), torch.zeros(c, device=dev)
    ms = median_ms(torch, lambda: F.batch_norm(xin, None, None, gamma, beta, training=True))
    peers[("batch_norm_train", f"N{nb} {h}x{h} C{c}")] = (
        "F.batch_norm training NHWC", gbps(2.0 * 4 * nb * h * h * c, ms))
    return peers, f"torch {torch.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_cuda", help="path to the bench_cuda binary")
    ap.add_argument("--out", help="write the table as JSON here")
    args = ap.parse_args()
    q = run_qforge(args.bench_cuda)
    peers, torch_version = torch_peers()
    rows = []
    print(f"\n{q['device']} (capability {q['capability']}), {torch_version or 'no PyTorch'}")
    print(f"{'operator':<20} {'shape':<24} {'qforge':>10} {'peer':>10} {'unit':<8} {'ratio':>7}  peer")
    for r in q["rows"]:
        name, value = peers.get((r["op"], r["shape"]), (None, None))
        ratio = r["value"] / value if value else None
        rows.append({**r, "peer": name, "peer_value": value, "ratio": ratio})
        print(f"{r['op']:<20} {r['shape']:<24} {r['value']:>10.1f} "
              f"{(f'{value:.1f}' if value else '-'):>10} {r['unit']:<8} "
              f"{(f'{ratio:.3f}' if ratio else '-'):>7}  {name or '-'}")
    copy = next((r for r in rows if r["op"] == "stream_copy"), None)
    if copy and copy["peer_value"]:
        print("\nmemory-bound rows against the GPU's copy bandwidth (torch copy_):")
        for r in rows:
            if r["unit"] == "GB/s":
                print(f"  {r['op']:<20} {r['value'] / copy['peer_value']:.2f} of {copy['peer_value']:.0f} GB/s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": q["device"], "capability": q["capability"], "torch": torch_version, "rows": rows},
                      f, indent=2)


if __name__ == "__main__":
    main()
