#!/usr/bin/env bash
# A real, local Kubernetes control plane for tests and the demo: etcd (Debian's etcd-server) and a kube-apiserver
# built from Debian bookworm's `kubernetes` source package, both on 127.0.0.1. No kubelet, no scheduler: enough for
# an operator, which only talks to the API server.
#
#   scripts/control-plane.sh install   install packages and build kube-apiserver + kubectl (cached)
#   scripts/control-plane.sh up        install if needed, start, wait until ready, write the kubeconfig
#   scripts/control-plane.sh down      stop both and remove the state directory
#   scripts/control-plane.sh env       print `export KUBECONFIG=…` and PATH for kubectl
#   scripts/control-plane.sh status    exit 0 when the API server answers
#   scripts/control-plane.sh restart-apiserver   stop kube-apiserver and start it again on the same etcd data
#   scripts/control-plane.sh compact-etcd        compact etcd's history up to its current revision (printed), so
#                                                that a watch resuming from an older resourceVersion gets 410 Gone
#
# Environment: IO_CP_DIR (state, default /tmp/infinity-orchestrator-cp), IO_CP_PORT (6443), IO_ETCD_PORT (2379),
# IO_CACHE (default ~/.cache/infinity-orchestrator), IO_APISERVER_ARGS (extra kube-apiserver flags, split on spaces,
# for example `--watch-cache=false`; give the same to `restart-apiserver`).
set -euo pipefail

K8S_VERSION=1.20.2
REFLECT2_VERSION=1.0.2
CACHE=${IO_CACHE:-$HOME/.cache/infinity-orchestrator}
BIN_DIR=$CACHE/kubernetes-$K8S_VERSION-reflect2-$REFLECT2_VERSION/bin
STATE=${IO_CP_DIR:-/tmp/infinity-orchestrator-cp}
API_PORT=${IO_CP_PORT:-6443}
ETCD_PORT=${IO_ETCD_PORT:-2379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
# The static token of the cluster administrator; a test bed secret, never used outside loopback.
ADMIN_TOKEN=infinity-orchestrator-local-admin

log() { printf '[control-plane] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "sudo"; fi
}

install_packages() {
  local sudo; sudo=$(need_root)
  local missing=()
  command -v go >/dev/null || missing+=(golang-go)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v etcd >/dev/null || [ -x /usr/bin/etcd ] || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  command -v flock >/dev/null || missing+=(util-linux)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || missing+=(golang-github-modern-go-reflect2-dev)
  command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_deb_src() {
  local sudo; sudo=$(need_root)
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src .*bookworm' /etc/apt/sources.list; then
    log "adding a deb-src entry for bookworm"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $sudo tee /etc/apt/sources.list.d/infinity-orchestrator-src.sources >/dev/null
    $sudo apt-get update -qq
  fi
}

build_binaries() {
  if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ]; then return 0; fi
  install_packages
  ensure_deb_src
  local work; work=$(mktemp -d "${TMPDIR:-/tmp}/io-k8s-build.XXXXXX")
  log "fetching the kubernetes source package into $work"
  (cd "$work" && apt-get source -qq --download-only kubernetes/bookworm >/dev/null)
  local orig; orig=$(ls "$work"/kubernetes_*.orig.tar.* | head -n1)
  mkdir -p "$work/src"
  tar -xf "$orig" -C "$work/src" --strip-components=1
  cd "$work/src"
  # The vendored reflect2 v1.0.1 makes the server segfault on its first custom-resource write with Go >= 1.18;
  # v1.0.2 from Debian's Go source tree fixes it.
  rm -rf vendor/github.com/modern-go/reflect2
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
  rm -f vendor/github.com/modern-go/reflect2/go.mod vendor/github.com/modern-go/reflect2/go.sum
  mkdir -p .go/src/k8s.io && ln -s ../../.. .go/src/k8s.io/kubernetes
  log "building kube-apiserver and kubectl $K8S_VERSION (a few minutes on 2 cores)"
  GOPATH=$PWD/.go GOFLAGS=-mod=vendor GO111MODULE=off CGO_ENABLED=0 \
    make WHAT="cmd/kube-apiserver cmd/kubectl" >"$work/build.log" 2>&1 || {
      tail -n 40 "$work/build.log" >&2; log "build failed; log kept in $work/build.log"; return 1; }
  mkdir -p "$BIN_DIR"
  cp _output/bin/kube-apiserver _output/bin/kubectl "$BIN_DIR/"
  cd / && rm -rf "$work"
  log "cached in $BIN_DIR"
}

write_pki() {
  mkdir -p "$STATE/pki" "$STATE/certs"
  [ -f "$STATE/pki/sa.key" ] || openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
  printf '%s,admin,admin,system:masters\n' "$ADMIN_TOKEN" >"$STATE/pki/tokens.csv"
}

write_kubeconfig() {
  # Every test process runs `up`, and others read these files meanwhile: each is written aside and renamed into
  # place, so that a reader never sees one half written.
  # The server made itself a CA and a serving certificate; the CA is the second certificate in apiserver.crt.
  awk '/BEGIN CERTIFICATE/{n++} n==2' "$STATE/certs/apiserver.crt" >"$STATE/ca.crt.$$"
  mv -f "$STATE/ca.crt.$$" "$STATE/ca.crt"
  cat >"$STATE/kubeconfig.$$" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $STATE/ca.crt
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
KCFG
  mv -f "$STATE/kubeconfig.$$" "$STATE/kubeconfig"
}

api_ready() {
  curl -fsSk --max-time 2 -H "Authorization: Bearer $ADMIN_TOKEN" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
  # Test processes call `up` in parallel; one starts the servers, the others wait and reuse them. The servers are
  # started with fd 9 closed, or they would hold the lock for as long as they run.
  exec 9>"$STATE.lock"
  flock 9
  if api_ready; then write_kubeconfig; log "already up on 127.0.0.1:$API_PORT"; return 0; fi
  build_binaries
  install_packages
  mkdir -p "$STATE"
  write_pki
  local etcd_bin; etcd_bin=$(command -v etcd || echo /usr/bin/etcd)
  if ! alive "$STATE/etcd.pid"; then
    log "starting etcd on 127.0.0.1:$ETCD_PORT"
    # setsid: the servers outlive the shell that started them, and `down` stops them by pid.
    setsid "$etcd_bin" --name io-local --data-dir "$STATE/etcd" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "io-local=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync \
      >"$STATE/etcd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/etcd.pid"
  fi
  if ! alive "$STATE/apiserver.pid"; then start_apiserver; fi
  wait_ready
}

start_apiserver() {
  log "starting kube-apiserver on 127.0.0.1:$API_PORT"
  local extra
  read -r -a extra <<<"${IO_APISERVER_ARGS:-}"
  setsid "$BIN_DIR/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
      --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
      --cert-dir "$STATE/certs" \
      --token-auth-file "$STATE/pki/tokens.csv" \
      --authorization-mode RBAC \
      --service-account-issuer https://kubernetes.default.svc.cluster.local \
      --service-account-key-file "$STATE/pki/sa.pub" \
      --service-account-signing-key-file "$STATE/pki/sa.key" \
      --service-cluster-ip-range 10.0.0.0/24 \
      --allow-privileged=true \
      --disable-admission-plugins ServiceAccount \
      "${extra[@]}" \
      >>"$STATE/apiserver.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/apiserver.pid"
}

wait_ready() {
  local i
  for i in $(seq 1 120); do
    if api_ready; then write_kubeconfig; log "ready (KUBECONFIG=$STATE/kubeconfig)"; return 0; fi
    if ! alive "$STATE/apiserver.pid"; then tail -n 30 "$STATE/apiserver.log" >&2; log "kube-apiserver exited"; return 1; fi
    sleep 0.5
  done
  tail -n 30 "$STATE/apiserver.log" >&2
  log "kube-apiserver did not become ready in 60s"
  return 1
}

stop_pid() {
  local f=$1
  if alive "$f"; then
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

restart_apiserver() {
  exec 9>"$STATE.lock"
  flock 9
  stop_pid "$STATE/apiserver.pid"
  start_apiserver
  wait_ready
}

compact_etcd() {
  local base="http://127.0.0.1:$ETCD_PORT/v3/kv" revision
  # The JSON gateway of etcd 3.4; any range answer carries the store's current revision in its header.
  revision=$(curl -fsS -X POST "$base/range" -d '{"key":"AA=="}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
  curl -fsS -X POST "$base/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null
  echo "$revision"
}

down() {
  stop_pid "$STATE/apiserver.pid"
  stop_pid "$STATE/etcd.pid"
  rm -rf "$STATE"
  log "stopped"
}

case "${1:-}" in
  install) build_binaries ;;
  up) up ;;
  down) down ;;
  env) printf 'export KUBECONFIG=%s\nexport PATH=%s:$PATH\n' "$STATE/kubeconfig" "$BIN_DIR" ;;
  status) api_ready ;;
  restart-apiserver) restart_apiserver ;;
  compact-etcd) compact_etcd ;;
  bin-dir) echo "$BIN_DIR" ;;
  *) echo "usage: $0 install|up|down|env|status|bin-dir|restart-apiserver|compact-etcd" >&2; exit 2 ;;
esac
