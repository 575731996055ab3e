#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Put fused attention times in place of pim-gpucal's unfused ones.

    merge_attn.py GEMMS.tsv ATTN.tsv -o OUT.tsv

GEMMS.tsv is pim-gpucal's file (cuBLAS GEMMs, unfused attention),
ATTN.tsv attn_sdpa.py's (fused attention). OUT.tsv gets GEMMS.tsv's
header and GEMM rows, then ATTN.tsv's attention rows, with ATTN.tsv's
header lines as "attn_" keys. Both files must calibrate the same preset
on the same GPU, and ATTN.tsv must hold exactly GEMMS.tsv's attention
shapes with the same work, flops and bytes: nothing is lost or invented.
"""
import argparse
import os
import sys

COLUMNS = ("op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\tseconds\t"
           "min_s\tmax_s\treps")
ATTN_OPS = ("prefill_attn", "decode_attn")


class Bad(Exception):
    pass


def read(path):
    """(header [(key, value)], rows [(fields, line number)])."""
    head, rows, columns = [], [], False
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            if line.startswith("#"):
                if columns:
                    raise Bad("%s:%d: comment after the column line" %
                              (path, n))
                k, colon, v = line.lstrip("# ").partition(":")
                if colon:
                    head.append((k, v.strip()))
                continue
            if not columns:
                if line != COLUMNS:
                    raise Bad("%s:%d: expected the column line" % (path, n))
                columns = True
                continue
            fields = line.split("\t")
            if len(fields) != 12:
                raise Bad("%s:%d: expected 12 tab-separated fields" %
                          (path, n))
            rows.append((fields, n))
    if not columns:
        raise Bad("%s: no column line" % path)
    return head, rows


def value(head, key, path):
    for k, v in head:
        if k == key:
            return v
    raise Bad("%s: no '# %s:' line" % (path, key))


def merge(gemms, attn, gemm_path, attn_path):
    gh, gr = gemms
    ah, ar = attn
    for key in ("preset", "gpu"):
        g, a = value(gh, key, gemm_path), value(ah, key, attn_path)
        if g != a:
            raise Bad("%s has %s '%s', %s '%s'" %
                      (gemm_path, key, g, attn_path, a))
    want = {tuple(f[:5]): f for f, _ in gr if f[0] in ATTN_OPS}
    got = set()
    for f, n in ar:
        k = tuple(f[:5])
        if f[0] not in ATTN_OPS:
            raise Bad("%s:%d: %s is not an attention row" %
                      (attn_path, n, f[0]))
        if k not in want:
            raise Bad("%s:%d: %s %s tp %s %sx%s is not among %s's "
                      "attention rows" % ((attn_path, n) + k + (gemm_path,)))
        if k in got:
            raise Bad("%s:%d: a second row for %s %s tp %s %sx%s" %
                      ((attn_path, n) + k))
        for i, name in ((5, "work"), (6, "flops"), (7, "bytes")):
            if float(f[i]) != float(want[k][i]):
                raise Bad("%s:%d: %s %s, %s in %s" %
                          (attn_path, n, name, f[i], want[k][i], gemm_path))
        got.add(k)
    missing = sorted(set(want) - got)
    if missing:
        raise Bad("%s lacks %d of %s's attention rows, first %s" %
                  (attn_path, len(missing), gemm_path, " ".join(missing[0])))
    out = []
    for k, v in gh:
        if k == "attention":
            v = ("fused, from attn_sdpa.py (the attn_ lines); pim-gpucal's "
                 "unfused rows were: " + v)
        out.append("# %s: %s" % (k, v))
    out.append("# merged: GEMM rows from pim-gpucal (cuBLAS), prefill_attn "
               "and decode_attn rows from attn_sdpa.py (gpu/calib/"
               "merge_attn.py)")
    out += ["# attn_%s: %s" % (k, v) for k, v in ah if k != "preset"]
    out.append(COLUMNS)
    out += ["\t".join(f) for f, _ in gr if f[0] not in ATTN_OPS]
    out += ["\t".join(f) for f, _ in ar]
    return "\n".join(out) + "\n"


def main(argv):
    p = argparse.ArgumentParser(
        prog="merge_attn.py",
        description="Replace a pim-gpucal file's attention rows with "
                    "attn_sdpa.py's.")
    p.add_argument("gemms", help="pim-gpucal's data file")
    p.add_argument("attn", help="attn_sdpa.py's data file")
    p.add_argument("-o", "--output", required=True,
                   help="the merged data file")
    a = p.parse_args(argv)
    tmp = "%s.tmp.%d" % (a.output, os.getpid())
    try:
        text = merge(read(a.gemms), read(a.attn), a.gemms, a.attn)
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, a.output)
    except (Bad, OSError, ValueError) as e:
        print("merge_attn.py: %s" % e, file=sys.stderr)
        if os.path.exists(tmp):
            os.unlink(tmp)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
