# Sourced by the one-process-per-GPU shuffle tests: with `eplb` set, sets n (the GPUs to use, 2 to
# 4; exits 77, skipped, with fewer than 2) and dir (a scratch directory the caller removes), and
# writes two placements of 3 layers x 32 experts on 48 slots for n GPUs, dir/p1.json -> dir/p2.json.
n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${n:-0}" -lt 2 ]; then
    echo "skipped: needs 2 GPUs (${n:-0} visible)"
    exit 77
fi
[ "$n" -gt 4 ] && n=4
dir=$(mktemp -d)
for seed in 1 2; do
    "$eplb" gen-trace --num-layers 3 --num-experts 32 --seed "$seed" -o "$dir/t$seed.json" >/dev/null || exit 1
    "$eplb" plan --backend cpu --trace "$dir/t$seed.json" --num-gpus "$n" --num-physical-experts 48 \
        -o "$dir/p$seed.json" >/dev/null || exit 1
done
