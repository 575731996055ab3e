#!/bin/sh
# The GPU calibration tools without a GPU: pim-gpucal's arguments, plan
# and clean "no CUDA device" failure; attn_sdpa.py's plan, shapes and
# failure without torch; merge_attn.py on the committed H200 files; and
# gpu-calib.sh's glue with a stand-in nvidia-smi and python.
GPUCAL=${GPUCAL:-build/pim-gpucal}
PY=${PYTHON:-python3}
SDPA=gpu/calib/attn_sdpa.py
MERGE=gpu/calib/merge_attn.py
DATA=data/gpu
export PYTHONDONTWRITEBYTECODE=1
n=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- pim-gpucal ----
if [ ! -x "$GPUCAL" ]; then
	skip "no CUDA tool built (nvcc not found): pim-gpucal"
else
	for args in "--models NOPE" "--tokens 4,2" "--tokens 0" \
		    "--prefill 256" "--decode 4x0" "--reps 0" \
		    "--reps 50 --max-reps 10" "--preset Z80" "--meta novalue" \
		    "--prefill 256x0,256x0" "extra"; do
		# shellcheck disable=SC2086
		"$GPUCAL" $args --list >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ]
		ok $? "pim-gpucal: bad arguments '$args': exit 2 with a message ($(head -c 60 "$tmp/err" | head -n 1))"
	done

	"$GPUCAL" --list >"$tmp/plan" 2>"$tmp/err"
	ok $? "pim-gpucal --list prints the plan without a GPU"
	rows=$(($(wc -l <"$tmp/plan") - 1))
	# 4 models x (5 GEMMs x 14 token counts + 9 prefill + 6 decode)
	[ "$rows" = 340 ]
	ok $? "default plan has 340 measurements ($rows)"
	awk -F'\t' 'NR > 1 && $1 == "qkv" && $2 == "QWEN-72B" && $4 == 1 {
		exit !($3 == 4 && $7 == 2 * 8192 * 2560) }' "$tmp/plan"
	ok $? "QWEN-72B qkv shard: 8192 x (64 + 2 * 8) * 128 / 4, tp 4"
	awk -F'\t' 'NR > 1 { k = $1 FS $2; if (k == p && $6 + 0 <= w + 0) bad = 1
		p = k; w = $6 } END { exit bad }' "$tmp/plan"
	ok $? "work increases within every (op, model) series"

	"$GPUCAL" -m GPT-89B -t 1,8 -P 128x0 -D 2x64 --list >"$tmp/small" 2>&1
	[ "$(wc -l <"$tmp/small")" = 13 ]
	ok $? "a chosen plan: 5 x 2 GEMMs, 1 prefill, 1 decode"

	if command -v nvidia-smi >/dev/null 2>&1 &&
	   nvidia-smi -L >/dev/null 2>&1; then
		skip "an NVIDIA GPU is present: the no-GPU path is not testable"
	else
		"$GPUCAL" -o "$tmp/h.tsv" -m GPT-89B -t 1 >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ "$rc" = 1 ] && grep -q "^pim-gpucal: no CUDA device" "$tmp/err" &&
			[ ! -e "$tmp/h.tsv" ]
		ok $? "no GPU: exit 1, '$(head -n 1 "$tmp/err")', no output file"
	fi
fi

# ---- attn_sdpa.py, merge_attn.py, gpu-calib.sh ----
if ! command -v "$PY" >/dev/null 2>&1; then
	skip "no $PY: attn_sdpa.py, merge_attn.py and gpu-calib.sh untested"
	echo "1..$n"
	exit 0
fi

for args in "-m NOPE" "-P 256" "-D 4x0" "-r 0" "-r 50 -R 10" "-M novalue" \
	    "-P 256x0,256x0" "extra" "--list -o x.tsv"; do
	# shellcheck disable=SC2086
	"$PY" $SDPA $args --list >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ]
	ok $? "attn_sdpa.py: bad arguments '$args': exit 2 with a message ($(tail -n 1 "$tmp/err" | cut -c 1-60))"
done

"$PY" $SDPA --list >"$tmp/sdpa-plan" &&
	[ "$(wc -l <"$tmp/sdpa-plan")" = 61 ]
ok $? "attn_sdpa.py --list: 4 models x (9 prefill + 6 decode) shapes"
if [ -x "$GPUCAL" ]; then
	"$GPUCAL" --list | awk -F'\t' '$1 ~ /_attn$/' >"$tmp/gc-attn"
	tail -n +2 "$tmp/sdpa-plan" | cmp -s - "$tmp/gc-attn"
	ok $? "attn_sdpa.py's plan is pim-gpucal's attention plan, field for field"
else
	skip "no CUDA tool built: attn_sdpa.py's plan not compared with pim-gpucal's"
fi
"$PY" $SDPA --check-shapes $DATA/h200-unfused-attn.tsv >"$tmp/out" 2>&1
ok $? "its work, flops and bytes match $DATA/h200-unfused-attn.tsv ($(cut -c 1-60 "$tmp/out"))"
awk -F'\t' -v OFS='\t' '$1 == "decode_attn" && $2 == "QWEN-72B" && $4 == 16 {
	$7 = $7 * 2 } { print }' $DATA/h200-unfused-attn.tsv >"$tmp/badflops.tsv"
"$PY" $SDPA --check-shapes "$tmp/badflops.tsv" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "decode_attn QWEN-72B flops" "$tmp/err"
ok $? "a file with other flops fails the check ($(head -n 1 "$tmp/err" | sed 's|.*:[0-9]*: ||'))"

if "$PY" -c 'import torch' >/dev/null 2>&1; then
	skip "$PY has torch: the no-torch path is not testable"
else
	"$PY" $SDPA -o "$tmp/s.tsv" >"$tmp/out" 2>"$tmp/err"
	[ $? = 1 ] && grep -q "^attn_sdpa.py: no torch" "$tmp/err" &&
		[ ! -e "$tmp/s.tsv" ]
	ok $? "no torch: exit 1, '$(head -n 1 "$tmp/err")', no output file"
fi

"$PY" $MERGE $DATA/h200-unfused-attn.tsv $DATA/h200-sdpa-attn.tsv \
	-o "$tmp/m.tsv" && cmp -s "$tmp/m.tsv" $DATA/h200.tsv
ok $? "merge_attn.py remakes $DATA/h200.tsv from the other two"
"$PY" $MERGE --pick fused $DATA/h200-unfused-attn.tsv \
	$DATA/h200-sdpa-attn.tsv -o "$tmp/f.tsv"
[ "$(awk -F'\t' '$1 ~ /_attn$/' "$tmp/f.tsv")" = \
  "$(awk -F'\t' '$1 ~ /_attn$/' $DATA/h200-sdpa-attn.tsv)" ] &&
	[ "$(grep -c '^qkv' "$tmp/f.tsv")" = 56 ]
ok $? "--pick fused: every attention row from the fused file, the GEMMs kept"
grep -v '^decode_attn.GPT-89B.4.128' $DATA/h200-sdpa-attn.tsv >"$tmp/short.tsv"
sed 's/^# preset: H200/# preset: H100/' $DATA/h200-sdpa-attn.tsv >"$tmp/h100.tsv"
for bad in short badflops h100; do
	a=$DATA/h200-sdpa-attn.tsv
	g=$DATA/h200-unfused-attn.tsv
	case $bad in
	short|h100) a=$tmp/$bad.tsv ;;
	badflops) g=$tmp/badflops.tsv ;;
	esac
	"$PY" $MERGE "$g" "$a" -o "$tmp/out.tsv" 2>"$tmp/err"
	rc=$?
	set -- "$tmp"/out.tsv*
	[ $rc = 1 ] && [ -s "$tmp/err" ] && [ ! -e "$1" ]
	ok $? "merge_attn.py refuses a $bad file: exit 1, no output file ($(sed 's|^merge_attn.py: [^ ]* ||' "$tmp/err" | cut -c 1-60))"
done

# gpu-calib.sh, re-doing only the fused half, with a stand-in nvidia-smi
# (one clock sample a call) and a python whose attn_sdpa.py writes the
# committed fused rows, after a second for the clock sample to land.
mkdir "$tmp/bin"
cat >"$tmp/bin/nvidia-smi" <<'EOF'
#!/bin/sh
case "$*" in
*-lms*)	echo "timestamp, clocks.sm, clocks.mem, power.draw, temperature"
	echo "2026/01/01 00:00:00.000, 1980 MHz, 3201 MHz, 500.00 W, 40" ;;
*noheader*)
	echo "NVIDIA H200, 580.0, P0, 345 MHz, 3201 MHz, 1980 MHz, 3201 MHz, 700.00 W, 30, Enabled" ;;
*)	echo "name" ;;
esac
EOF
cat >"$tmp/bin/py" <<EOF
#!/bin/sh
[ "\$1" = -c ] && exit 0
if [ "\$1" = $SDPA ]; then
	while [ \$# -gt 0 ] && [ "\$1" != -o ]; do shift; done
	cp $DATA/h200-sdpa-attn.tsv "\$2"
	sleep 1
	exit
fi
exec "$PY" "\$@"
EOF
chmod +x "$tmp/bin/nvidia-smi" "$tmp/bin/py"
PATH="$tmp/bin:$PATH" PYTHON="$tmp/bin/py" GEMMS_FROM=$DATA/h200-unfused-attn.tsv \
	gpu/calib/gpu-calib.sh "$tmp/gc" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && cmp -s "$tmp/gc/h200-unfused-attn.tsv" $DATA/h200-unfused-attn.tsv &&
	grep -q '^# clocks_during_run: SM MHz min 1980' "$tmp/gc/h200-sdpa-attn.tsv" &&
	grep -q '^# attn_clocks_during_run: ' "$tmp/gc/h200.tsv" &&
	[ "$(grep -v '^#' "$tmp/gc/h200.tsv")" = "$(grep -v '^#' $DATA/h200.tsv)" ]
ok $? "gpu-calib.sh GEMMS_FROM=: measures, stamps and merges the fused half (exit $rc)"
for env in "SDPA=2" "SDPA=0 GEMMS_FROM=$DATA/h200.tsv" "GEMMS_FROM=$tmp/none"; do
	# shellcheck disable=SC2086
	env PATH="$tmp/bin:$PATH" $env gpu/calib/gpu-calib.sh "$tmp/gc2" \
		>"$tmp/out" 2>&1
	[ $? = 2 ] && [ ! -e "$tmp/gc2" ]
	ok $? "gpu-calib.sh $env: exit 2 before anything runs ($(head -n 1 "$tmp/out" | cut -c 1-60))"
done
echo "1..$n"
