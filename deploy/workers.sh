#!/bin/sh
# One coordinated soak from a shell: N workers in the background, the lead in the foreground.
# On several machines, run the worker line on each (with its own --worker-index, or none:
# the order of joining then decides) and the lead line anywhere that reaches Redis.
#
#   REDIS=redis://:PASSWORD@10.0.0.5:6379 RUN=nightly-42 WORKERS=3 CONNECTIONS=21000 \
#     URL=ws://10.0.0.9:8080/ws deploy/workers.sh -d 10m --message-rate 1
#
# Environment: WSBEAT (the binary, default wsbeat), REDIS, RUN, WORKERS, CONNECTIONS, URL,
# OUT (where the reports go, default .), SOURCE_PREFIX (e.g. 127.0.0. : worker i binds to
# SOURCE_PREFIX(i+2), as on a loopback test). Extra arguments go to every worker and the lead.
# Exit status: the lead's (0 ok, 1 threshold broken or a worker lost, 3 Redis unreachable,
# 6 barrier timeout).
set -u
WSBEAT=${WSBEAT:-wsbeat}
: "${REDIS:?set REDIS=redis://HOST:PORT}" "${RUN:?set RUN=a run id}"
: "${WORKERS:?set WORKERS=N}" "${CONNECTIONS:?set CONNECTIONS=N}" "${URL:?set URL=ws://...}"
OUT=${OUT:-.}

pids=""
i=0
while [ "$i" -lt "$WORKERS" ]; do
    src=""
    if [ -n "${SOURCE_PREFIX:-}" ]; then
        src="--source-addrs ${SOURCE_PREFIX}$((i + 2))"
    fi
    # shellcheck disable=SC2086 # $src is empty or two words on purpose
    "$WSBEAT" soak "$URL" -c "$CONNECTIONS" --coordinator "$REDIS/$RUN" --workers "$WORKERS" \
        --worker-index "$i" $src --no-live --json "$OUT/worker-$i.json" "$@" \
        >"$OUT/worker-$i.log" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done

"$WSBEAT" soak --coordinator "$REDIS/$RUN" --workers "$WORKERS" --lead \
    --json "$OUT/run.json" "$@"
status=$?
for p in $pids; do
    wait "$p" || echo "workers.sh: worker pid $p exited $?" >&2
done
exit "$status"
