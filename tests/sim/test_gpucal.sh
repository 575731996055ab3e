#!/bin/sh
# pim-gpucal without a GPU: argument errors, the measurement plan, and a
# clean "no CUDA device" failure that leaves no output file behind.
GPUCAL=${GPUCAL:-build/pim-gpucal}
n=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

if [ ! -x "$GPUCAL" ]; then
	echo "1..0 # SKIP no CUDA tool built (nvcc not found)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for args in "--models NOPE" "--tokens 4,2" "--tokens 0" "--prefill 256" \
	    "--decode 4x0" "--reps 0" "--reps 50 --max-reps 10" \
	    "--preset Z80" "--meta novalue" "--prefill 256x0,256x0" "extra"; do
	# shellcheck disable=SC2086
	"$GPUCAL" $args --list >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ]
	ok $? "bad arguments '$args': exit 2 with a message ($(head -c 60 "$tmp/err" | head -n 1))"
done

"$GPUCAL" --list >"$tmp/plan" 2>"$tmp/err"
ok $? "--list prints the plan without a GPU"
rows=$(($(wc -l <"$tmp/plan") - 1))
# 4 models x (5 GEMMs x 14 token counts + 9 prefill + 6 decode shapes)
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

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1
then
	echo "ok $((n + 1)) # SKIP an NVIDIA GPU is present: the no-GPU path is not testable"
	n=$((n + 1))
else
	"$GPUCAL" -o "$tmp/h.tsv" -m GPT-89B -t 1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] && grep -q "^pim-gpucal: no CUDA device" "$tmp/err" &&
		[ -z "$(ls "$tmp" | grep h.tsv)" ]
	ok $? "no GPU: exit 1, '$(head -n 1 "$tmp/err")', no output file"
fi
echo "1..$n"
