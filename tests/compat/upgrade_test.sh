#!/usr/bin/env bash
# Sites upgrade in place: the state directories written by an earlier release (made by
# tests/compat/make-state, kept in tests/compat/state-*/) open and serve with the programs of
# this checkout. For each kept state, on a copy:
#   - store serve opens it: the developer, the releases and the revocation are there, and a
#     download of a kept release verifies;
#   - slsm serve opens it: services, policy, node, instance, issuance log and join tokens are
#     there, and a policy change is issued and reaches the node;
#   - nlsm serve opens the node: it re-verifies the kept instance (rules 1-8) and runs it, then
#     renews it under the new policy;
#   - every server stops on SIGTERM with exit code 0 and leaves databases that pass
#     PRAGMA integrity_check.
# The programs run under libfaketime at the moment the state was made (plus a few seconds), so
# the certificates in it are as valid as they were then.
#
#   SITECHAIN_BIN_DIR=build/bin tests/compat/upgrade_test.sh [STATE_DIR ...]
#
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
SRC=$(realpath "$(dirname "$0")")
BIN=$(realpath "${SITECHAIN_BIN_DIR:?set SITECHAIN_BIN_DIR to the built programs}")
STATES=("$@")
[ ${#STATES[@]} -gt 0 ] || STATES=("$SRC"/state-*)

FAKETIME_LIB=
for candidate in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
  /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -e "$candidate" ] && FAKETIME_LIB=$candidate
done
if [ -z "$FAKETIME_LIB" ]; then
  echo "upgrade_test: libfaketime is missing (scripts/install-deps installs faketime)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
WORK=
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  PIDS=()
  [ -n "$WORK" ] && rm -rf "$WORK"
  WORK=
}
trap cleanup EXIT

fail() {
  echo "upgrade_test: FAILED: $*" >&2
  for log in "$WORK"/*.log; do
    [ -e "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }
  done
  return 1
}
# "${AT[@]}" PROGRAM ARGS...: runs a program at the state's time (a simple command, so that
# `... &` gives the program's own pid in $!: env execs it).
AT=()
at() { "${AT[@]}" "$@"; }
# eventually SECONDS WHAT COMMAND...: polls COMMAND until it succeeds.
eventually() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { fail "timed out after ${limit}s waiting until $what"; return 1; }
    sleep 0.2
  done
}
ready_port() { sed -E 's/.*"port":([0-9]+).*/\1/' "$1"; }
# contains TEXT COMMAND...: the command succeeds and prints TEXT.
contains() {
  local text=$1 out
  shift
  out=$("$@" 2>&1) || { fail "'$*' failed: $out"; return 1; }
  grep -qF -- "$text" <<<"$out" || { fail "'$*' does not show '$text':"$'\n'"$out"; return 1; }
}
# node_field FIELD: the echo instance's FIELD in `nlsm status --json`.
node_field() {
  "$BIN/nlsm" status --dir "$WORK/node1" --json 2>/dev/null | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next((str(i.get('$1', '')) for i in d['instances'] if i['service'] == 'echo'), ''))"
}
echo_is() { [ "$(node_field state)" = "$1" ]; }
runs_policy() { node_field policy_json | grep -qF "$1" && echo_is running; }
# stop PID NAME: SIGTERM, and the exit code must be 0.
stop() {
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [ "$rc" -eq 0 ] || { fail "$2 exited with $rc after SIGTERM"; return 1; }
}
integrity_ok() {
  local out
  out=$(sqlite3 "$1" 'PRAGMA integrity_check') || { fail "sqlite3 $1"; return 1; }
  [ "$out" = ok ] || { fail "integrity_check of $1: $out"; return 1; }
}

upgrade() {
  local state=$1
  trap cleanup EXIT
  WORK=$(mktemp -d)
  cp -a "$state"/. "$WORK"/
  # git keeps no file modes but the executable bit: give the private keys theirs back.
  find "$WORK" -name '*.key' -exec chmod 600 {} +
  cd "$WORK" || return 1
  AT=(env LD_PRELOAD="$FAKETIME_LIB" FAKETIME="-$(($(date +%s) - $(cat made-at) - 5))s"
    FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1)
  echo "upgrade_test: $(basename "$state") (made by $(cat made-by)) at $(at date -u +%FT%TZ)"

  # The store.
  "${AT[@]}" "$BIN/store" serve --dir store --listen 127.0.0.1:0 --ready-file store.ready 2>store.log &
  local store_pid=$!
  PIDS+=("$store_pid")
  eventually 20 "the store serves" test -s store.ready || return 1
  local store_port
  store_port=$(ready_port store.ready)
  local s=(--store "localhost:$store_port" --store-root store/root.pem)
  contains "alice" "$BIN/store" developers list --dir store || return 1
  contains "made for the compat test" at "$BIN/devkit" revocations "${s[@]}" || return 1
  contains "1.0.1" at "$BIN/devkit" revocations "${s[@]}" || return 1
  contains "echo" at "$BIN/devkit" releases "${s[@]}" || return 1
  at "$BIN/devkit" download "${s[@]}" hello 1.0.0 --out-dir dl >dl.log 2>&1 ||
    { fail "download of hello 1.0.0 from the kept store"; return 1; }
  contains "hello" ./dl/hello || return 1

  # The site manager, told where the store is now.
  printf '{"store": "localhost:%s", "listen": "127.0.0.1:0", "ready_file": "slsm.ready",
 "policy_push_window": "1s"}\n' "$store_port" >slsm-override.json
  "${AT[@]}" "$BIN/slsm" serve --dir site --config slsm-override.json 2>slsm.log &
  local slsm_pid=$!
  PIDS+=("$slsm_pid")
  eventually 20 "the slsm serves" test -s slsm.ready || return 1
  contains "from the old release" "$BIN/slsm" services --dir site || return 1
  contains "node1" "$BIN/slsm" nodes --dir site || return 1
  contains "node1" "$BIN/slsm" instances --dir site || return 1
  local kept_serial
  kept_serial=$(sqlite3 site/slsm.db "SELECT serial FROM issued WHERE kind = 'site'") ||
    { fail "read the issuance log"; return 1; }
  contains "$kept_serial" "$BIN/slsm" issued --dir site || return 1

  # The node, told where the slsm is now (nlsm.json is the node's configuration file).
  /usr/bin/python3 - "$(ready_port slsm.ready)" <<'PY' || { fail "rewrite nlsm.json"; return 1; }
import json, sys
path = "node1/nlsm.json"
config = json.load(open(path))
config["slsm"] = "localhost:" + sys.argv[1]
open(path, "w").write(json.dumps(config))
PY
  echo '{"heartbeat_interval": "1s", "stop_grace": "2s"}' >nlsm-override.json
  "${AT[@]}" "$BIN/nlsm" serve --dir node1 --config nlsm-override.json 2>nlsm.log &
  local nlsm_pid=$!
  PIDS+=("$nlsm_pid")
  eventually 30 "the kept echo instance runs again" echo_is running || return 1
  local kept_not_after
  kept_not_after=$(node_field certificate_not_after)

  # New work on the upgraded state: a policy change is issued and renewed on the node.
  echo '{"env": {"GREETING": "from the new release"}}' >policy.json
  "$BIN/slsm" policy set --dir site echo policy.json >/dev/null ||
    { fail "slsm policy set on the kept site"; return 1; }
  eventually 30 "the node runs echo under the new policy" runs_policy "from the new release" ||
    return 1
  [ "$(node_field certificate_not_after)" != "$kept_not_after" ] ||
    { fail "the Cert_site was not renewed"; return 1; }
  eventually 10 "the slsm logs the new issuance" \
    test "$(sqlite3 site/slsm.db "SELECT count(*) FROM issued WHERE kind = 'site'")" -ge 2 ||
    return 1

  stop "$nlsm_pid" nlsm || return 1
  stop "$slsm_pid" slsm || return 1
  stop "$store_pid" store || return 1
  PIDS=()
  integrity_ok site/slsm.db || return 1
  integrity_ok store/store.db || return 1
  cd / || return 1
}

for state in "${STATES[@]}"; do
  if (upgrade "$state"); then
    echo "upgrade_test: $(basename "$state"): ok"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
