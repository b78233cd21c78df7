#!/usr/bin/env python3
"""PyTorch reference for the qforge-train side-by-side comparison.

Builds the qforge-train Fashion-MNIST network in PyTorch and measures, on the
CPU with a fixed thread count:

  * fp32_epoch_s  wall time of one FP32 training epoch (60k images, batch 128)
  * qat_epoch_s   the same for eager-mode QAT (fuse_modules_qat + prepare_qat,
                  fake quant and observers active)
  * int8_b1_ms / int8_b128_ms   median inference latency of the converted
                  (torch.ao.quantization.convert) int8 model
  * fp32_b1_ms / fp32_b128_ms   FP32 eval latency, for context
  * optionally (--accuracy) test accuracy of FP32, PTQ W8A8 and QAT models.

Results go to stdout as JSON (and to --out FILE).  Exit codes: 0 ok,
3 peer unavailable (torch / numpy / a quantized engine missing), 2 bad
arguments or unreadable data, 1 any other failure.  See
bench/pytorch_reference.md.
"""

import argparse
import datetime
import gzip
import json
import math
import os
import platform
import statistics
import struct
import sys
import time

EXIT_PEER_UNAVAILABLE = 3
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _die(code, msg):
    sys.stderr.write("pytorch_reference: %s\n" % msg)
    sys.exit(code)


try:
    import numpy as np
except Exception as e:  # ImportError, or a broken install
    _die(EXIT_PEER_UNAVAILABLE,
         "numpy is not available (%s: %s); peer unavailable. "
         "On Debian: apt-get install python3-numpy" % (type(e).__name__, e))

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:
    _die(EXIT_PEER_UNAVAILABLE,
         "PyTorch is not available (%s: %s); peer unavailable. "
         "On Debian: apt-get install python3-torch" % (type(e).__name__, e))

try:
    import torch.ao.quantization as tq
except Exception as e:
    _die(EXIT_PEER_UNAVAILABLE,
         "torch %s has no torch.ao.quantization (%s: %s); need torch >= 1.10; peer unavailable"
         % (getattr(torch, "__version__", "?"), type(e).__name__, e))


# ----------------------------------------------------------------------------
# Data

def read_idx(path):
    """Reads an IDX file (gzip-compressed or raw) of unsigned bytes into a numpy array."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (path, e))
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError("%s: corrupt gzip stream: %s" % (path, e))
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("%s: not an IDX file (bad magic)" % path)
    if raw[2] != 0x08:
        raise ValueError("%s: IDX element type 0x%02x, only unsigned byte (0x08) supported" % (path, raw[2]))
    ndims = raw[3]
    if ndims < 1 or len(raw) < 4 + 4 * ndims:
        raise ValueError("%s: truncated IDX header" % path)
    dims = struct.unpack(">%dI" % ndims, raw[4:4 + 4 * ndims])
    n = int(np.prod(dims, dtype=np.int64))
    payload = raw[4 + 4 * ndims:]
    if len(payload) != n:
        raise ValueError("%s: payload is %d bytes, dims %s need %d" % (path, len(payload), dims, n))
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _find(dirname, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(dirname, name)
        if os.path.exists(p):
            return p
    raise ValueError("no %s[.gz] in %s" % (stem, dirname))


def load_split(dirname, split, mean, std, limit=0):
    imgs = read_idx(_find(dirname, "%s-images-idx3-ubyte" % split))
    labels = read_idx(_find(dirname, "%s-labels-idx1-ubyte" % split))
    if imgs.ndim != 3 or labels.ndim != 1 or imgs.shape[0] != labels.shape[0]:
        raise ValueError("%s split: images %s and labels %s disagree" % (split, imgs.shape, labels.shape))
    if labels.size and int(labels.max()) >= 10:
        raise ValueError("%s split: label %d out of range" % (split, int(labels.max())))
    if limit > 0:
        imgs, labels = imgs[:limit], labels[:limit]
    x = (imgs.astype(np.float32) / 255.0 - mean) / std
    x = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1)  # NCHW [n, 1, 28, 28]
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# ----------------------------------------------------------------------------
# Model

class Net(nn.Module):
    """conv(1->16,5x5,p2)-BN-ReLU-maxpool2 -> conv(16->32,5x5,p2)-BN-ReLU-maxpool2
    -> flatten -> linear(1568->128)-ReLU -> linear(128->10).
    QuantStub/DeQuantStub are identities until the model is prepared."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = self.relu3(self.fc1(x))
        x = self.fc2(x)
        return self.dequant(x)


FUSE_LIST = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["fc1", "relu3"]]


def make_model(seed):
    torch.manual_seed(seed)
    return Net()


def make_qat_model(seed, qconfig_backend):
    m = make_model(seed)
    m.train()
    m = tq.fuse_modules_qat(m, FUSE_LIST)
    m.qconfig = tq.get_default_qat_qconfig(qconfig_backend)
    tq.prepare_qat(m, inplace=True)
    return m


def make_optimizer(model, args):
    return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                           weight_decay=args.weight_decay)


# ----------------------------------------------------------------------------
# Training / evaluation

def train_steps(model, opt, x, y, order, first_step, nsteps, batch, step_times=None):
    """Runs nsteps SGD steps over examples order[first_step*batch ...]; returns the mean loss.
    Appends each step's wall time (s) to step_times when given."""
    model.train()
    total = 0.0
    n = x.shape[0]
    for s in range(first_step, first_step + nsteps):
        b = s * batch
        if b >= n:
            break
        ts = time.perf_counter()
        idx = order[b:b + batch]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        total += float(loss.detach())
        if step_times is not None:
            step_times.append(time.perf_counter() - ts)
    return total / max(1, nsteps)


class CpuMonitor:
    """Measures CPU time used by *other* processes on the machine during an interval
    (system-wide busy time from /proc/stat minus this process's own CPU time), so a run
    disturbed by concurrent load (e.g. a compile on the same 2 cores) can be recognised."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _busy(self):
        try:
            with open("/proc/stat") as f:
                v = [int(t) for t in f.readline().split()[1:]]
            return (sum(v) - v[3] - (v[4] if len(v) > 4 else 0)) / self.hz  # minus idle, iowait
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self):
        t = os.times()
        self.b0, self.own0, self.w0 = self._busy(), t.user + t.system, time.perf_counter()
        return self

    def __exit__(self, *exc):
        t = os.times()
        self.wall = time.perf_counter() - self.w0
        b1 = self._busy()
        self.result = None
        if self.b0 is not None and b1 is not None:
            other = max(0.0, (b1 - self.b0) - (t.user + t.system - self.own0))
            self.result = {"other_procs_cpu_s": round(other, 2),
                           "other_procs_cpu_frac": round(other / max(1e-9, self.wall * (os.cpu_count() or 1)), 3)}
        return False


def wait_quiet(max_s, threshold=0.10):
    """Waits (up to max_s seconds) until other processes use < threshold of the CPUs over a
    1 s window; returns the seconds waited and whether it got quiet."""
    if max_s <= 0:
        return None
    t0 = time.perf_counter()
    while True:
        with CpuMonitor() as mon:
            time.sleep(1.0)
        r = mon.result
        waited = time.perf_counter() - t0
        if r is None or r["other_procs_cpu_frac"] < threshold:
            return {"waited_s": round(waited, 1), "quiet": r is not None}
        if waited >= max_s:
            return {"waited_s": round(waited, 1), "quiet": False}


def timed_epoch(model, opt, x, y, args, gen):
    """Times one training epoch (or --steps steps, scaled); returns (seconds, info dict)."""
    steps_per_epoch = math.ceil(x.shape[0] / args.batch)
    # Warm-up steps on a random permutation (not timed): first-call allocations, oneDNN
    # primitive creation, observer initialisation.
    if args.warmup_steps > 0:
        train_steps(model, opt, x, y, torch.randperm(x.shape[0], generator=gen), 0,
                    args.warmup_steps, args.batch)
    order = torch.randperm(x.shape[0], generator=gen)
    quiet = wait_quiet(args.wait_quiet)
    measured = steps_per_epoch if args.steps <= 0 else min(args.steps, steps_per_epoch)
    step_times = []
    with CpuMonitor() as mon:
        t0 = time.perf_counter()
        loss = train_steps(model, opt, x, y, order, 0, measured, args.batch, step_times)
        dt = time.perf_counter() - t0
    scaled = measured != steps_per_epoch
    epoch_s = dt * steps_per_epoch / measured if scaled else dt
    st = sorted(step_times)
    med = statistics.median(st)
    # The median step time x steps is a noise-robust cross-check of the wall-clock number
    # (a shared 2-core box shows occasional multi-second stalls).
    return epoch_s, {"measured_steps": measured, "measured_s": round(dt, 4),
                     "scaled": scaled, "mean_loss": round(loss, 4),
                     "step_ms_mean": round(1000.0 * dt / measured, 3),
                     "step_ms_median": round(1000.0 * med, 3),
                     "step_ms_p90": round(1000.0 * st[min(len(st) - 1, int(0.9 * len(st)))], 3),
                     "step_ms_max": round(1000.0 * st[-1], 3),
                     "epoch_s_from_median_step": round(med * steps_per_epoch, 3),
                     "contention": mon.result, "wait_quiet": quiet}


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for b in range(0, x.shape[0], batch):
        correct += int((model(x[b:b + batch]).argmax(1) == y[b:b + batch]).sum())
    return correct / x.shape[0]


@torch.no_grad()
def latency_ms(model, inp, warmup, runs):
    model.eval()
    for _ in range(warmup):
        model(inp)
    ts = []
    with CpuMonitor() as mon:
        for _ in range(runs):
            t0 = time.perf_counter()
            model(inp)
            ts.append((time.perf_counter() - t0) * 1000.0)
    ts.sort()
    return {"median": round(statistics.median(ts), 4), "min": round(ts[0], 4),
            "p90": round(ts[min(len(ts) - 1, int(0.9 * len(ts)))], 4), "runs": runs, "warmup": warmup,
            "contention": mon.result}


def convert_int8(qat_model):
    qat_model.eval()
    return tq.convert(qat_model, inplace=False)


# ----------------------------------------------------------------------------

def pick_engines(args):
    supported = list(torch.backends.quantized.supported_engines)
    if args.engine:
        if args.engine not in supported:
            _die(EXIT_PEER_UNAVAILABLE, "quantized engine %r not supported by this torch (supported: %s)"
                 % (args.engine, supported))
        engine = args.engine
    elif "onednn" in supported:
        engine = "onednn"
    elif "fbgemm" in supported:
        engine = "fbgemm"
    elif "qnnpack" in supported:
        engine = "qnnpack"
        sys.stderr.write("pytorch_reference: warning: neither onednn nor fbgemm supported; using qnnpack\n")
    else:
        _die(EXIT_PEER_UNAVAILABLE, "no quantized engine available (supported: %s); peer unavailable" % supported)
    # The QAT/PTQ qconfig matches the engine the model is converted for (the onednn qconfig
    # has no reduce_range, the fbgemm one does; mixing them is what the docs warn against).
    qconfig = args.qconfig or engine
    return engine, qconfig, supported


def cpu_info():
    info = {"machine": platform.machine(), "nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        for line in txt.splitlines():
            if line.startswith("model name"):
                info["model"] = line.split(":", 1)[1].strip()
                break
        flags = set()
        for line in txt.splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
        info["isa"] = sorted(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags)
    except OSError:
        pass
    return info


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch reference numbers for the qforge-train comparison.")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="dir with the Fashion-MNIST IDX files")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--steps", type=int, default=0,
                   help="time only K training steps and scale to a full epoch (default 0: full epoch)")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed training steps before timing (default 3)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", "--wd", dest="weight_decay", type=float, default=5e-4)
    p.add_argument("--mean", type=float, default=0.2860)
    p.add_argument("--std", type=float, default=0.3530)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--engine", choices=["onednn", "fbgemm", "qnnpack", "x86"], default=None,
                   help="torch.backends.quantized.engine (default: onednn if supported, else fbgemm)")
    p.add_argument("--qconfig", choices=["onednn", "fbgemm", "qnnpack", "x86"], default=None,
                   help="backend for get_default_qat_qconfig / get_default_qconfig (default: same as engine)")
    p.add_argument("--lat-warmup", type=int, default=20, help="untimed inference runs before timing")
    p.add_argument("--lat-runs-b1", type=int, default=300, help="timed runs at batch 1")
    p.add_argument("--lat-runs-b128", type=int, default=50, help="timed runs at batch 128")
    p.add_argument("--skip-fp32-train", action="store_true", help="do not time the FP32 epoch")
    p.add_argument("--skip-qat-train", action="store_true", help="do not time the QAT epoch")
    p.add_argument("--accuracy", action="store_true", help="also measure test accuracy (slow)")
    p.add_argument("--epochs", type=int, default=1, help="training epochs for --accuracy (default 1)")
    p.add_argument("--calib", type=int, default=2048, help="PTQ calibration images for --accuracy (default 2048)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each measurement wait up to S seconds for other processes to use < 10%% "
                        "of the CPUs (default 0: don't wait); the JSON records contention either way")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--debug", action="store_true", help="show a traceback on failure")
    a = p.parse_args(argv)
    if a.threads < 1 or a.batch < 1 or a.steps < 0 or a.epochs < 1 or a.calib < 1:
        p.error("--threads, --batch, --epochs, --calib must be >= 1 and --steps >= 0")
    return a


def run(args):
    torch.set_num_threads(args.threads)
    engine, qconfig_backend, supported = pick_engines(args)
    torch.backends.quantized.engine = engine

    t0 = time.perf_counter()
    try:
        xtr, ytr = load_split(args.data, "train", args.mean, args.std)
        xte, yte = load_split(args.data, "t10k", args.mean, args.std)
    except ValueError as e:
        _die(EXIT_BAD_INPUT, "dataset: %s" % e)
    load_s = time.perf_counter() - t0
    steps_per_epoch = math.ceil(xtr.shape[0] / args.batch)

    res = {
        "tool": "bench/pytorch_reference.py",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
        "threads_requested": args.threads,
        "interop_threads": torch.get_num_interop_threads(),
        "cpu": cpu_info(),
        "quantized_engine": engine,
        "qat_qconfig": qconfig_backend,
        "supported_engines": supported,
        "network": "conv1x16k5p2-bn-relu-pool2/conv16x32k5p2-bn-relu-pool2/fc1568x128-relu/fc128x10",
        "hyper": {"batch": args.batch, "lr": args.lr, "momentum": args.momentum,
                  "weight_decay": args.weight_decay, "mean": args.mean, "std": args.std, "seed": args.seed},
        "train_images": int(xtr.shape[0]),
        "steps_per_epoch": steps_per_epoch,
        "warmup_steps": args.warmup_steps,
        "data_load_s": round(load_s, 3),
    }
    gen = torch.Generator().manual_seed(args.seed)

    # FP32 training epoch.
    fp32 = make_model(args.seed)
    if not args.skip_fp32_train:
        s, info = timed_epoch(fp32, make_optimizer(fp32, args), xtr, ytr, args, gen)
        res["fp32_epoch_s"] = round(s, 3)
        res["fp32_train"] = info
        res["measured_steps"] = info["measured_steps"]
        res["scaled"] = info["scaled"]

    # QAT training epoch (eager mode: fuse_modules_qat, qconfig, prepare_qat).
    qat = make_qat_model(args.seed, qconfig_backend)
    res["qat_fused"] = [",".join(g) for g in FUSE_LIST]
    if not args.skip_qat_train:
        s, info = timed_epoch(qat, make_optimizer(qat, args), xtr, ytr, args, gen)
        res["qat_epoch_s"] = round(s, 3)
        res["qat_train"] = info
        res.setdefault("measured_steps", info["measured_steps"])
        res.setdefault("scaled", info["scaled"])
    if "fp32_epoch_s" in res and "qat_epoch_s" in res:
        res["qat_over_fp32"] = round(res["qat_epoch_s"] / res["fp32_epoch_s"], 3)

    # Inference latency: int8 (converted QAT model) and FP32 eval.
    int8 = convert_int8(qat)
    x1, x128 = xte[:1].contiguous(), xte[:args.batch].contiguous()
    lat = {"wait_quiet": wait_quiet(args.wait_quiet)}
    lat["int8_b1"] = latency_ms(int8, x1, args.lat_warmup, args.lat_runs_b1)
    lat["int8_b128"] = latency_ms(int8, x128, args.lat_warmup, args.lat_runs_b128)
    lat["fp32_b1"] = latency_ms(fp32, x1, args.lat_warmup, args.lat_runs_b1)
    lat["fp32_b128"] = latency_ms(fp32, x128, args.lat_warmup, args.lat_runs_b128)
    res["int8_b1_ms"] = lat["int8_b1"]["median"]
    res["int8_b128_ms"] = lat["int8_b128"]["median"]
    res["fp32_b1_ms"] = lat["fp32_b1"]["median"]
    res["fp32_b128_ms"] = lat["fp32_b128"]["median"]
    res["latency_detail_ms"] = lat
    res["latency_note"] = ("median wall time of model(x) under no_grad, float NCHW input in / float logits out "
                           "(includes quantize of the input and dequantize of the logits for int8)")

    if args.accuracy:
        res["accuracy"] = accuracy(args, qconfig_backend, xtr, ytr, xte, yte, gen)
    return res


def accuracy(args, qconfig_backend, xtr, ytr, xte, yte, gen):
    out = {"epochs": args.epochs, "calib_images": args.calib, "test_images": int(xte.shape[0])}
    steps_per_epoch = math.ceil(xtr.shape[0] / args.batch)

    def train_full(model):
        opt = make_optimizer(model, args)
        times = []
        for _ in range(args.epochs):
            order = torch.randperm(xtr.shape[0], generator=gen)
            t0 = time.perf_counter()
            train_steps(model, opt, xtr, ytr, order, 0, steps_per_epoch, args.batch)
            times.append(round(time.perf_counter() - t0, 3))
        return times

    # FP32 from scratch.
    fp32 = make_model(args.seed)
    out["fp32_epoch_times_s"] = train_full(fp32)
    out["fp32"] = evaluate(fp32, xte, yte)

    # PTQ W8A8: fuse (eval), default static qconfig, calibrate on the first N train images, convert.
    ptq = make_model(args.seed)
    ptq.load_state_dict(fp32.state_dict())
    ptq.eval()
    ptq = tq.fuse_modules(ptq, FUSE_LIST)
    ptq.qconfig = tq.get_default_qconfig(qconfig_backend)
    tq.prepare(ptq, inplace=True)
    with torch.no_grad():
        for b in range(0, min(args.calib, xtr.shape[0]), args.batch):
            ptq(xtr[b:min(b + args.batch, args.calib)])
    ptq = tq.convert(ptq, inplace=False)
    out["ptq_int8"] = evaluate(ptq, xte, yte)

    # QAT from scratch (same init and schedule as FP32), then convert.
    qat = make_qat_model(args.seed, qconfig_backend)
    out["qat_epoch_times_s"] = train_full(qat)
    out["qat_fakequant"] = evaluate(qat, xte, yte)
    out["qat_int8"] = evaluate(convert_int8(qat), xte, yte)
    return out


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        res = run(args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _die(130, "interrupted")
    except Exception as e:
        if args.debug:
            raise
        _die(EXIT_FAILURE, "failed: %s: %s (rerun with --debug for a traceback)" % (type(e).__name__, e))
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        try:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        except OSError as e:
            _die(EXIT_FAILURE, "cannot write %s: %s" % (args.out, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
