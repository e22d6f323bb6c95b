# steal.sh - the hypervisor's steal time, for the benchmark reports (run.sh
# and, through bench-lib.sh, the HTTP ones); sourced, not run.
#
# steal_ticks prints "STEAL TOTAL", clock ticks from /proc/stat; steal_pct
# READING prints the percentage of all CPU time the hypervisor took since
# that reading.  On a VM whose CPUs are taken away for a millisecond or two
# at a time, tail latencies show it.

steal_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' \
        /proc/stat 2>/dev/null || echo '0 0'
}
steal_pct() {
    echo "$1 $(steal_ticks)" | awk '{ d = $4 - $2
        printf "%.1f%%", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}
