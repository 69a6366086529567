# Sourced by the set-up scripts: progress lines, and steps whose output is shown only on failure.
# SETUP_NAME is the prefix of the lines ("setup" by default).

say() { echo "${SETUP_NAME:-setup}: $*" >&2; }

# quietly WHAT COMMAND...: run a step with its output in a log; on failure show the log and stop.
quietly() {
    local what="$1" log status=0
    shift
    log="$(mktemp "${TMPDIR:-/tmp}/reloadd-setup.XXXXXX")"
    "$@" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
        say "$what failed (exit status $status); its output:"
        cat "$log" >&2
        rm -f "$log"
        exit "$status"
    fi
    rm -f "$log"
}

