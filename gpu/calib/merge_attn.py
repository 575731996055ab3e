#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Put fused attention times in place of pim-gpucal's unfused ones.

    merge_attn.py GEMMS.tsv ATTN.tsv -o OUT.tsv [--pick faster|fused]

GEMMS.tsv is pim-gpucal's file (cuBLAS GEMMs, unfused attention),
ATTN.tsv attn_sdpa.py's (fused attention). OUT.tsv gets GEMMS.tsv's
header and GEMM rows, then the attention rows, with ATTN.tsv's header
lines as "attn_" keys. Each attention row is, with --pick faster (the
default), the one of the two files with the smaller median: the fastest
kernel measured at that shape, as a serving engine picks its kernels;
with --pick fused, ATTN.tsv's. A header line lists the rows taken from
GEMMS.tsv. Both files must calibrate the same preset on the same GPU,
and ATTN.tsv must hold exactly GEMMS.tsv's attention shapes with the
same work, flops and bytes: nothing is lost or invented.
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


def merge(gemms, attn, gemm_path, attn_path, pick):
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
    rows, kept = [], {}
    for f, _ in ar:
        u = want[tuple(f[:5])]
        if pick == "faster" and float(u[8]) < float(f[8]):
            f = u
            s = "%s %s tp %s" % tuple(f[:3])
            kept[s] = kept.get(s, "") + " %sx%s" % (f[3], f[4])
        rows.append(f)
    out = []
    for k, v in gh:
        if k == "attention":
            v = ("from attn_sdpa.py (the attn_ lines) or, where 'unfused' "
                 "says, pim-gpucal's: " + v)
        out.append("# %s: %s" % (k, v))
    out.append("# merged: GEMM rows from pim-gpucal (cuBLAS); prefill_attn "
               "and decode_attn rows (gpu/calib/merge_attn.py --pick %s) %s"
               % (pick, "the faster of pim-gpucal's unfused and "
                  "attn_sdpa.py's fused median at each shape"
                  if pick == "faster" else "from attn_sdpa.py"))
    out.append("# unfused: %s" % ("; ".join(s + ":" + kept[s]
                                            for s in kept) or "none"))
    out += ["# attn_%s: %s" % (k, v) for k, v in ah if k != "preset"]
    out.append(COLUMNS)
    out += ["\t".join(f) for f, _ in gr if f[0] not in ATTN_OPS]
    out += ["\t".join(f) for f in rows]
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
    p.add_argument("--pick", choices=("faster", "fused"), default="faster",
                   help="each attention row from the faster file "
                        "(default), or all from ATTN")
    a = p.parse_args(argv)
    tmp = "%s.tmp.%d" % (a.output, os.getpid())
    try:
        text = merge(read(a.gemms), read(a.attn), a.gemms, a.attn,
                     a.pick)
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
