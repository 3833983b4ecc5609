#!/usr/bin/env bash
# The docker-compose topology without a container engine: every role in its own network
# namespace with its own IP (10.77.0.0/24), joined by a bridge in a "switch" namespace.
# Nothing touches the host's own network. Needs root and iproute2.
#
#   scripts/netns-cluster.sh up   [DIR]   start registry, log, grading x2, webui; print addresses
#   scripts/netns-cluster.sh down [DIR]   stop them (by pid) and delete the namespaces
#   scripts/netns-cluster.sh exec HOST CMD...   run a command on a host (e.g. gds status)
#
# ROLES overrides the members after the registry: "name:role[:extra flags]" separated by spaces.
set -euo pipefail

PREFIX=${GDS_NETNS_PREFIX:-gds}
NET=10.77.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${2:-${GDS_NETNS_DIR:-/tmp/gds-netns}}
# The web UI binds its host's address (not only loopback), so it asks for the token it makes.
ROLES=${ROLES:-"log:log grading-1:grading grading-2:grading webui:webui:--http-host=0.0.0.0"}
SW="$PREFIX-sw"

die() { echo "netns-cluster: $*" >&2; exit 1; }
need() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
  command -v ip >/dev/null || die "needs iproute2 (apt-get install iproute2)"
}

host_up() { # name index
  local ns="$PREFIX-$1" ip="$NET.$2"
  ip netns add "$ns"
  ip link add "v$PREFIX$2" type veth peer name "eth0" netns "$ns"
  ip link set "v$PREFIX$2" netns "$SW"
  ip -n "$SW" link set "v$PREFIX$2" master br0 up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

start_node() { # name index role [flags...]
  local name=$1 idx=$2 role=$3; shift 3
  local ns="$PREFIX-$name"
  ip netns exec "$ns" env NODE_ENV=production OCLIF_SKIP_NEW_VERSION_CHECK=true GDS_HOME="$DIR/data" \
    node "$ROOT/bin/run.js" node start --json --role "$role" --name "$name" \
    --listen "/ip4/$NET.$idx/tcp/4001" --data-dir "$DIR/data/$name" "$@" \
    >"$DIR/$name.jsonl" 2>"$DIR/$name.err" &
  echo $! >"$DIR/$name.pid"
}

wait_event() { # name event
  for _ in $(seq 1 300); do
    grep -q "\"event\":\"$2\"" "$DIR/$1.jsonl" 2>/dev/null && return 0
    if ! kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; then die "$1 exited: $(tail -n 3 "$DIR/$1.err")"; fi
    sleep 0.1
  done
  die "$1 did not report $2 within 30 s"
}

up() {
  need
  ip netns list | grep -q "^$SW\b" && die "already up (run: $0 down)"
  mkdir -p "$DIR/data"
  ip netns add "$SW"
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  host_up registry 1
  local i=2
  for spec in $ROLES; do host_up "${spec%%:*}" $i; i=$((i + 1)); done

  start_node registry 1 registry
  wait_event registry listening
  local id
  id=$(grep -m1 '"event":"listening"' "$DIR/registry.jsonl" | sed 's/.*"peerId":"\([^"]*\)".*/\1/')
  local registry="/ip4/$NET.1/tcp/4001/p2p/$id"
  echo "$registry" >"$DIR/registry.addr"
  i=2
  for spec in $ROLES; do
    IFS=: read -r name role extra <<<"$spec"
    # shellcheck disable=SC2086
    start_node "$name" $i "$role" --registry "$registry" --db "$DIR/data/grading.db" $extra
    i=$((i + 1))
  done
  for spec in $ROLES; do wait_event "${spec%%:*}" registered; done
  echo "cluster up across namespaces; registry $registry"
  i=2
  for spec in $ROLES; do echo "  ${spec%%:*}  $NET.$i  ($PREFIX-${spec%%:*})"; i=$((i + 1)); done
  echo "  look: $0 exec registry gds status --registry $registry"
  if [ -f "$DIR/data/webui/http-token" ]; then echo "  web UI token: $DIR/data/webui/http-token"; fi
}

down() {
  for f in "$DIR"/*.pid; do
    [ -f "$f" ] || continue
    kill -INT "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$DIR"/*.pid; do
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do ip netns delete "$ns"; done
}

case "${1:-}" in
  up) up ;;
  down) need; down ;;
  exec)
    need; shift; host=$1; shift
    [ "${1:-}" = gds ] && { shift; set -- node "$ROOT/bin/run.js" "$@"; }
    exec ip netns exec "$PREFIX-$host" env NODE_ENV=production OCLIF_SKIP_NEW_VERSION_CHECK=true "$@" ;;
  *) sed -n '2,12p' "$0"; exit 1 ;;
esac
