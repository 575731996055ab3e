#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Fused attention times for pimsim's GPU calibration (data/gpu/).

Times torch.nn.functional.scaled_dot_product_attention with the
FlashAttention backend, FP16, at the prefill_attn and decode_attn shapes
pim-gpucal measures unfused, per tensor-parallel shard, and writes them in
the same TSV format (gpu/gpu_calib.h), so that gpu/calib/merge_attn.py
can put them in place of pim-gpucal's attention rows.

    attn_sdpa.py -o h200-sdpa-attn.tsv [--meta KEY=VALUE ...]
    attn_sdpa.py --list                      the plan, without torch
    attn_sdpa.py --check-shapes FILE         the plan's shapes against
                                             FILE's attention rows

Prefill is a chunk of c queries after a prefix of f tokens: causal,
aligned bottom-right (query i sees keys 0 .. f + i), as in a serving
engine. Decode is B requests of L tokens: one query each, all L keys.
"""
import argparse
import datetime
import math
import os
import platform
import sys

TOOL_VERSION = "1"
COLUMNS = ("op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\tseconds\t"
           "min_s\tmax_s\treps")
MAX_COPIES = 16

# The paper's models as gpu/presets.c has them: name, query heads, KV
# heads, head dimension, tensor parallelism. --check-shapes catches drift.
MODELS = (
    ("OPT-66B", 72, 72, 128, 2),
    ("QWEN-72B", 64, 8, 128, 4),
    ("GPT-175B", 96, 96, 128, 8),
    ("GPT-89B", 96, 96, 128, 4),
)

# pim-gpucal's default shapes: prefill chunk x prefix, decode batch x
# context.
PREFILL = ((256, 0), (512, 0), (1024, 0), (2048, 0), (4096, 0),
           (8192, 0), (1024, 4096), (2048, 14336), (4096, 28672))
DECODE = ((1, 2048), (4, 8192), (16, 8192), (32, 16384), (64, 16384),
          (128, 16384))


def cdiv(a, b):
    return -(-a // b)


class Row:
    """One measurement: its shard's shape, and its time once measured."""

    def __init__(self, op, model, tokens, ctx):
        name, heads, kv_heads, d, tp = model
        self.op, self.model, self.tp = op, name, tp
        self.tokens, self.ctx = tokens, ctx
        # tp beyond kv_heads replicates KV heads, as gpu_calib_shape()
        self.hq, self.hkv, self.d = cdiv(heads, tp), cdiv(kv_heads, tp), d
        t = tokens
        if op == "prefill_attn":
            self.work = t * ctx + t * (t + 1) // 2
            self.flops = 4 * self.work * self.hq * d
            self.bytes = 4 * (ctx + t) * self.hkv * d + 4 * t * self.hq * d
        else:
            self.work = t * ctx
            self.flops = 4 * self.work * self.hq * d
            self.bytes = 4 * self.work * self.hkv * d
        self.seconds = self.min_s = self.max_s = None
        self.reps = 0
        self.backend = None

    def key(self):
        return (self.op, self.model, self.tp, self.tokens, self.ctx)

    def shape_fields(self):
        return [self.op, self.model, str(self.tp), str(self.tokens),
                str(self.ctx), "%.17g" % self.work, "%.17g" % self.flops,
                "%.17g" % self.bytes]

    def line(self):
        return "\t".join(self.shape_fields() + [
            "%.9e" % self.seconds, "%.9e" % self.min_s,
            "%.9e" % self.max_s, str(self.reps)])


def plan(models, prefill, decode):
    """Rows in pim-gpucal's order: per model, prefill then decode, each
    in increasing work (the data file's interpolation key)."""
    rows = []
    for m in models:
        pre = sorted((Row("prefill_attn", m, c, f) for c, f in prefill),
                     key=lambda r: r.work)
        dec = sorted((Row("decode_attn", m, b, l) for b, l in decode),
                     key=lambda r: r.work)
        for series in (pre, dec):
            for a, b in zip(series, series[1:]):
                if a.work == b.work:
                    raise ValueError("two %s shapes of equal work" % a.op)
        rows += pre + dec
    return rows


def parse_shapes(text, what, zero_b):
    out = []
    for tok in text.split(","):
        a, x, b = tok.partition("x")
        if not (x and a.isdigit() and b.isdigit()) or int(a) < 1 or \
                int(b) < (0 if zero_b else 1) or \
                max(int(a), int(b)) > 1 << 20:
            raise ValueError("bad %s '%s'" % (what, tok))
        out.append((int(a), int(b)))
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="attn_sdpa.py",
        description="Fused (SDPA FlashAttention) prefill and decode "
                    "attention times per tensor-parallel shard.")
    p.add_argument("-o", "--output", help="write the data file here")
    p.add_argument("-p", "--preset", default="H200",
                   help="the gpu preset it calibrates (default H200)")
    p.add_argument("-m", "--models",
                   help="models, comma-separated (default: all)")
    p.add_argument("-P", "--prefill",
                   help="prefill CHUNKxPREFIX shapes, comma-separated")
    p.add_argument("-D", "--decode",
                   help="decode BATCHxCONTEXT shapes, comma-separated")
    p.add_argument("-r", "--reps", type=int, default=20,
                   help="timed runs per shape, at least (default 20)")
    p.add_argument("-R", "--max-reps", type=int, default=200,
                   help="and at most (default 200)")
    p.add_argument("-w", "--warmup", type=int, default=5,
                   help="untimed runs first (default 5)")
    p.add_argument("-M", "--meta", action="append", default=[],
                   metavar="KEY=VALUE", help="add a header line")
    p.add_argument("-d", "--device", type=int, default=0,
                   help="CUDA device (default 0)")
    p.add_argument("-l", "--list", action="store_true",
                   help="print the plan and exit, without torch")
    p.add_argument("--check-shapes", metavar="FILE",
                   help="compare the plan's work, flops and bytes with "
                        "FILE's attention rows and exit")
    a = p.parse_args(argv)
    names = [m[0] for m in MODELS]
    try:
        if a.models:
            for n in a.models.split(","):
                if n not in names:
                    raise ValueError("unknown model '%s' (have %s)" %
                                     (n, ", ".join(names)))
            a.models = [m for n in a.models.split(",")
                        for m in MODELS if m[0] == n]
        else:
            a.models = list(MODELS)
        a.prefill = parse_shapes(a.prefill, "prefill shape (CHUNKxPREFIX)",
                                 True) if a.prefill else list(PREFILL)
        a.decode = parse_shapes(a.decode, "decode shape (BATCHxCONTEXT)",
                                False) if a.decode else list(DECODE)
        if not 1 <= a.reps <= a.max_reps <= 400:
            raise ValueError("want 1 <= --reps <= --max-reps <= 400")
        if not 0 <= a.warmup <= 1000 or a.device < 0:
            raise ValueError("--warmup and --device must be >= 0")
        for kv in a.meta:
            k, eq, _ = kv.partition("=")
            if not eq or not k or "\n" in kv or ":" in k:
                raise ValueError("--meta wants KEY=VALUE, got '%s'" % kv)
        if a.output and (a.list or a.check_shapes):
            raise ValueError("-o does not go with --list or --check-shapes")
        a.rows = plan(a.models, a.prefill, a.decode)
    except ValueError as e:
        p.error(str(e))
    return a


def check_shapes(rows, path):
    """0 if every planned row is in path with the same work, flops and
    bytes, and path holds no attention row that the plan lacks."""
    want = {r.key(): r for r in rows}
    seen, bad = set(), 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if line.startswith("#") or fields[0] not in ("prefill_attn",
                                                         "decode_attn"):
                continue
            if len(fields) < 8 or not all(x.isdigit() for x in fields[2:5]):
                print("%s:%d: malformed attention row" % (path, n),
                      file=sys.stderr)
                bad += 1
                continue
            key = (fields[0], fields[1], int(fields[2]), int(fields[3]),
                   int(fields[4]))
            r = want.get(key)
            if r is None:
                print("%s:%d: %s %s tp %s %sx%s is not in the plan" %
                      ((path, n) + key), file=sys.stderr)
                bad += 1
                continue
            seen.add(key)
            mine = r.shape_fields()[5:]
            for name, got, exp in zip(("work", "flops", "bytes"),
                                      fields[5:8], mine):
                if float(got) != float(exp):
                    print("%s:%d: %s %s %s: %s here, %s in the plan" %
                          (path, n, key[0], key[1], name, got, exp),
                          file=sys.stderr)
                    bad += 1
    for key in sorted(set(want) - seen):
        print("%s: no row for %s %s tp %d %dx%d" % ((path,) + key),
              file=sys.stderr)
        bad += 1
    if not bad:
        print("%s: %d attention rows match the plan's work, flops and "
              "bytes" % (path, len(seen)))
    return 1 if bad else 0


# ---- measuring (torch from here on) ----

def inputs(torch, r, copies):
    """Q, and copies of K and V, in a serving engine's (batch, tokens,
    heads, d) layout, viewed as SDPA's (batch, heads, tokens, d)."""
    if r.op == "prefill_attn":
        b, sq, skv = 1, r.tokens, r.ctx + r.tokens
    else:
        b, sq, skv = r.tokens, 1, r.ctx

    def noise(heads, s):
        # small values as pim-gpucal: no overflow in long FP16 sums
        x = torch.empty(b, s, heads, r.d, device="cuda",
                        dtype=torch.float16)
        return x.uniform_(-0.05, 0.05).transpose(1, 2)

    q = noise(r.hq, sq)
    kv = [(noise(r.hkv, skv), noise(r.hkv, skv)) for _ in range(copies)]
    return q, kv


def attention(torch, r, q, k, v):
    """One call of the measured operator; GQA when K/V have fewer heads
    than Q (SDPA's enable_gqa: no copy of K/V)."""
    F = torch.nn.functional
    gqa = k.shape[1] != q.shape[1]
    if r.op == "decode_attn":
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
    if r.ctx == 0:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                              enable_gqa=gqa)
    from torch.nn.attention.bias import causal_lower_right
    mask = causal_lower_right(q.shape[-2], k.shape[-2])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                          enable_gqa=gqa)


def expand(r, k, v):
    """K/V with their heads repeated to the query heads."""
    n = r.hq // r.hkv
    return k.repeat_interleave(n, dim=1), v.repeat_interleave(n, dim=1)


def backend_ok(torch, r, q, k, v, backend):
    """Whether SDPA's dispatch would run backend for this call. The
    lower-right causal bias calls the flash or memory-efficient kernel
    itself, outside sdpa_kernel(), so ask the same question it asks."""
    from torch.backends.cuda import (SDPAParams, can_use_flash_attention,
                                     can_use_efficient_attention)
    from torch.nn.attention import SDPBackend
    gqa = r.hkv != r.hq
    # is_causal only where SDPA itself gets it (a square prefill)
    causal = r.op == "prefill_attn" and r.ctx == 0
    params = SDPAParams(q, k, v, None, 0.0, causal, gqa)
    if backend == SDPBackend.FLASH_ATTENTION:
        return can_use_flash_attention(params, False)
    return can_use_efficient_attention(params, False)


def choose(torch, r, q, k, v):
    """FlashAttention with native GQA if SDPA takes it, else the
    memory-efficient kernel (native GQA, then expanded K/V): (backend,
    whether K/V must be expanded, what ran)."""
    from torch.nn.attention import SDPBackend
    flash, eff = SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION
    tries = [(flash, False, "flash"), (eff, False, "efficient")]
    if r.hkv != r.hq:
        tries.append((eff, True,
                      "efficient, K/V expanded to the query heads"))
    why = []
    for backend, exp, name in tries:
        if not exp and not backend_ok(torch, r, q, k, v, backend):
            why.append("%s: refused" % name)
            continue
        try:
            kk, vv = expand(r, k, v) if exp else (k, v)
            with torch.nn.attention.sdpa_kernel(backend):
                attention(torch, r, q, kk, vv)
            torch.cuda.synchronize()
            return backend, exp, name
        except RuntimeError as e:
            why.append("%s: %s" % (name, str(e).splitlines()[0]))
    raise RuntimeError("no fused backend: " + "; ".join(why))


def kernels(torch, run):
    """Names of the CUDA kernels one call launches (the profiler's)."""
    from torch.profiler import profile, ProfilerActivity
    try:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            run()
            torch.cuda.synchronize()
    except Exception as e:  # what ran is a note; never fail the run
        return ["(profiler failed: %s)" % str(e).splitlines()[0]]
    names = set()
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            names.add(e.name.split("<")[0].split("(")[0].strip())
    return sorted(n for n in names if n)


def time_row(torch, r, a, l2_bytes, kernel_log):
    """pim-gpucal's method: warm-up, one estimate, then reps runs queued
    behind a sleep kernel, a CUDA event between each two; the median."""
    per_copy = 2 * 2 * r.hkv * r.d * (r.ctx + r.tokens if
                                      r.op == "prefill_attn" else r.ctx)
    if r.op == "decode_attn":
        per_copy *= r.tokens
    copies = max(1, min(MAX_COPIES, cdiv(2 * l2_bytes, per_copy)))
    q, kv = inputs(torch, r, copies)
    backend, exp, r.backend = choose(torch, r, q, kv[0][0], kv[0][1])
    if exp:
        kv = [expand(r, k, v) for k, v in kv]
    series = (r.op, r.model)
    with torch.nn.attention.sdpa_kernel(backend):
        def run(i):
            return attention(torch, r, q, kv[i % copies][0],
                             kv[i % copies][1])
        if series not in kernel_log:
            kernel_log[series] = (r.backend, kernels(torch,
                                                     lambda: run(0)))
        for i in range(a.warmup):
            run(i)
        ev = [torch.cuda.Event(enable_timing=True)
              for _ in range(a.max_reps + 1)]
        ev[0].record()
        run(0)
        ev[1].record()
        ev[1].synchronize()
        est_ms = max(ev[0].elapsed_time(ev[1]), 1e-3)
        reps = int(min(a.max_reps, max(a.reps, 50.0 / est_ms)))
        # Python queues a run in tens of microseconds; sleep long
        # enough (at <= 2 GHz) that all of them wait behind it.
        torch.cuda._sleep(int(2e9 * (5e-3 + reps * 200e-6)))
        for i in range(reps):
            ev[i].record()
            run(i)
        ev[reps].record()
        ev[reps].synchronize()
    t = sorted(ev[i].elapsed_time(ev[i + 1]) * 1e-3 for i in range(reps))
    r.reps = reps
    r.min_s, r.max_s = t[0], t[-1]
    r.seconds = t[reps // 2] if reps % 2 else \
        (t[reps // 2 - 1] + t[reps // 2]) / 2
    del q, kv
    torch.cuda.empty_cache()


def self_check(torch):
    """The fused path against an FP32 reference with the bottom-right
    mask spelled out, for MHA and GQA, prefill with a prefix and decode.
    The top-left mask must fail the same comparison, so the check can
    tell the two apart."""
    g = torch.Generator(device="cuda").manual_seed(1)
    worst = 0.0
    for hq, hkv in ((4, 4), (8, 2)):
        for op, tokens, ctx in (("prefill_attn", 64, 192),
                                ("decode_attn", 3, 256)):
            r = Row(op, ("check", hq, hkv, 128, 1), tokens, ctx)
            b, sq, skv = (1, tokens, ctx + tokens) if op == "prefill_attn" \
                else (tokens, 1, ctx)
            q, k, v = (torch.randn(b, h, s, 128, device="cuda",
                                   dtype=torch.float16, generator=g)
                       for h, s in ((hq, sq), (hkv, skv), (hkv, skv)))
            backend, exp, _ = choose(torch, r, q, k, v)
            kk, vv = expand(r, k, v) if exp else (k, v)
            with torch.nn.attention.sdpa_kernel(backend):
                out = attention(torch, r, q, kk, vv).float()
            kr = k.float().repeat_interleave(hq // hkv, dim=1)
            vr = v.float().repeat_interleave(hq // hkv, dim=1)
            s = q.float() @ kr.transpose(-1, -2) / math.sqrt(128)
            ok = torch.ones(sq, skv, dtype=torch.bool, device="cuda")
            ref = (s.masked_fill(~ok.tril(skv - sq), -math.inf)
                   .softmax(-1) @ vr)
            err = (out - ref).abs().max().item()
            worst = max(worst, err)
            if err > 2e-2:
                raise RuntimeError("%s hq %d hkv %d: fused output differs "
                                   "from the reference by %.3g" %
                                   (op, hq, hkv, err))
            if op == "prefill_attn":
                wrong = (s.masked_fill(~ok.tril(0), -math.inf)
                         .softmax(-1) @ vr)
                if (out - wrong).abs().max().item() < 0.1:
                    raise RuntimeError("the top-left mask matches too: "
                                       "the check cannot tell them apart")
    return worst


def header(a, torch, props, l2_bytes, kernel_log, backends, worst):
    now = datetime.datetime.now(datetime.timezone.utc)
    kv = [
        ("tool", "attn_sdpa.py %s (gpu/calib/)" % TOOL_VERSION),
        ("date", now.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("preset", a.preset),
        ("gpu", props.name),
        ("compute_capability", "%d.%d" % (props.major, props.minor)),
        ("memory_bytes", str(props.total_memory)),
        ("l2_bytes", str(l2_bytes)),
        ("torch", torch.__version__),
        ("cuda_runtime", str(torch.version.cuda)),
        ("python", platform.python_version()),
        ("units", "seconds of one layer's operator on one tensor-parallel "
                  "shard (one GPU); flops and bytes of that shard, as "
                  "pim-gpucal counts them"),
        ("attention", "fused: torch.nn.functional.scaled_dot_product_"
                      "attention, FP16, under sdpa_kernel(<backend>); "
                      "prefill is a chunk of c queries after f prefix "
                      "tokens, causal aligned bottom-right (is_causal when "
                      "f = 0, else torch.nn.attention.bias."
                      "causal_lower_right(c, f + c)); decode is B requests "
                      "of L tokens, one query each, no mask; dense K/V in "
                      "(batch, tokens, heads, 128) layout, not paged"),
        ("gqa", "enable_gqa=True (K/V heads not expanded) unless a row's "
                "backend says expanded"),
        ("backends", "; ".join("%s: %d rows" % (b, n)
                               for b, n in sorted(backends.items()))),
    ]
    for (op, model), (b, names) in sorted(kernel_log.items()):
        kv.append(("kernels_%s_%s" % (op, model),
                   "%s: %s" % (b, ", ".join(names) or "none seen")))
    kv += [
        ("self_check", "fused vs FP32 reference with the bottom-right mask "
                       "(MHA and GQA, prefill 64 after 192, decode): max "
                       "abs err %.2g; the top-left mask differs" % worst),
        ("cold_inputs", "K and V rotate over copies totalling at least "
                        "twice the L2 cache (at most %d)" % MAX_COPIES),
        ("timing", "%d untimed runs, then %d..%d timed (about 50 ms of "
                   "work) queued behind torch.cuda._sleep; seconds is the "
                   "median, CUDA events" %
         (a.warmup, a.reps, a.max_reps)),
    ]
    kv += [tuple(m.split("=", 1)) for m in a.meta]
    return "".join("# %s: %s\n" % (k, v) for k, v in kv) + COLUMNS + "\n"


def measure(a):
    try:
        import torch
        import torch.nn.attention  # noqa: F401 (sdpa_kernel, SDPBackend)
    except ImportError as e:
        print("attn_sdpa.py: no torch (%s)" % e, file=sys.stderr)
        return 1
    if not torch.cuda.is_available() or a.device >= \
            torch.cuda.device_count():
        print("attn_sdpa.py: no CUDA device %d (%d present)" %
              (a.device, torch.cuda.device_count()), file=sys.stderr)
        return 1
    torch.cuda.set_device(a.device)
    props = torch.cuda.get_device_properties(a.device)
    l2_bytes = getattr(props, "L2_cache_size", 0) or 64 << 20
    try:
        worst = self_check(torch)
        print("self-check: fused matches the bottom-right reference, max "
              "abs err %.2g" % worst, file=sys.stderr)
        kernel_log, backends = {}, {}
        for r in a.rows:
            time_row(torch, r, a, l2_bytes, kernel_log)
            backends[r.backend] = backends.get(r.backend, 0) + 1
            print("%-12s %-9s tp %d %6d x %-6d %10.2f us %7.1f TFLOP/s "
                  "%7.1f GB/s  %s" %
                  (r.op, r.model, r.tp, r.tokens, r.ctx, r.seconds * 1e6,
                   r.flops / r.seconds / 1e12, r.bytes / r.seconds / 1e9,
                   r.backend), file=sys.stderr)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as e:
        print("attn_sdpa.py: %s" % e, file=sys.stderr)
        return 1
    text = header(a, torch, props, l2_bytes, kernel_log, backends, worst) \
        + "".join(r.line() + "\n" for r in a.rows)
    if not a.output:
        sys.stdout.write(text)
        return 0
    # a failed run leaves no partial file behind
    tmp = "%s.tmp.%d" % (a.output, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, a.output)
    except OSError as e:
        print("attn_sdpa.py: %s" % e, file=sys.stderr)
        if os.path.exists(tmp):
            os.unlink(tmp)
        return 1
    return 0


def main(argv):
    a = parse_args(argv)
    if a.list:
        print("\t".join(COLUMNS.split("\t")[:8]))
        for r in a.rows:
            print("\t".join(r.shape_fields()))
        return 0
    if a.check_shapes:
        try:
            return check_shapes(a.rows, a.check_shapes)
        except OSError as e:
            print("attn_sdpa.py: %s" % e, file=sys.stderr)
            return 1
    return measure(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
