#!/bin/bash
# Runs a command beside a private systemd-journald: called under
# `unshare --mount --propagation private`, it mounts tmpfs over the journal
# folders (the machine's journal is untouched), starts journald, runs the
# command, forwards SIGTERM/SIGINT to it, and when it exits writes the whole
# journal as JSON lines to $JOURNAL_OUT. The command's pid goes to $CHILD_PID_FILE.
set -u
for d in /run/systemd/journal /run/log /var/log/journal; do
    mkdir -p "$d" && mount -t tmpfs tmpfs "$d" || { echo "with-journald: cannot mount $d" >&2; exit 97; }
done
/lib/systemd/systemd-journald &
journald=$!
for _ in $(seq 200); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
[ -S /run/systemd/journal/socket ] || { echo "with-journald: journald did not start" >&2; exit 98; }
# As under systemd: stderr is "the journal stream" and JOURNAL_STREAM names its device and inode.
if [ -n "${STDERR_FILE:-}" ]; then
    : > "$STDERR_FILE"
    export JOURNAL_STREAM="$(stat -c '%d:%i' "$STDERR_FILE")"
    "$@" 2>>"$STDERR_FILE" &
else
    "$@" &
fi
child=$!
echo "$child" > "$CHILD_PID_FILE"
trap 'kill -TERM $child 2>/dev/null' TERM INT
rc=0
while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    rc=$?
done
journalctl -o json --no-pager > "$JOURNAL_OUT.tmp" && mv "$JOURNAL_OUT.tmp" "$JOURNAL_OUT"
kill "$journald"
wait "$journald"
exit $rc
