# Shared by the bench/*.sh scripts: source it once in the repository root. Do not run it.

# The line every benchmark prints first: cores and CPU model of the machine that measured.
bench_machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
}

# Single-threaded timings run on one core (taskset -c 0 where it exists), away from the scheduler's moves.
bench_pin=""
if command -v taskset >/dev/null; then bench_pin="taskset -c 0"; fi
