#!/usr/bin/env bash
# The whole product on one machine: a local Kubernetes control plane (etcd + kube-apiserver on loopback, built once
# and cached), the GitHub simulator serving a sample organization (config/demo/github-org.yaml), the CRDs, the
# operator, and the objects of examples/ pointed at the simulator. Shows discovery, builds and healing as they
# happen, then a summary, the repository manifest and the compliance report.
#   --keep   leave everything running (prints how to reach it and how to stop it)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true
work=${IO_DEMO_DIR:-/tmp/infinity-orchestrator-demo}
rm -rf "$work" && mkdir -p "$work"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

say "1/6  Local Kubernetes control plane (etcd + kube-apiserver 1.20 on 127.0.0.1; the first run builds it, ~4 min)"
started=false
if ! scripts/control-plane.sh status >/dev/null 2>&1; then started=true; fi
scripts/control-plane.sh up
eval "$(scripts/control-plane.sh env)"

say "2/6  Building the operator and the GitHub simulator"
cargo build --quiet --bin infinity-orchestrator && cargo build --quiet -p github-sim --bin github-sim
# Where cargo put them: CARGO_TARGET_DIR or a configured target-dir moves them out of ./target.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
operator="$target_dir/debug/infinity-orchestrator" sim="$target_dir/debug/github-sim"
for binary in "$operator" "$sim"; do
  [ -x "$binary" ] || { echo "demo: $binary was not built (cargo build failed?)" >&2; exit 1; }
done
sim_port=$(free_port) webhook_port=$(free_port) metrics_port=$(free_port)
api_url="http://127.0.0.1:$sim_port"
webhook_secret=$(openssl rand -hex 16)

say "3/6  A simulated GitHub organization at $api_url (16 repositories, webhooks to the operator)"
# Simulated time starts now, so that run times read like real ones.
{ cat config/demo/github-org.yaml; echo "start_epoch_secs: $(date +%s)"; } >"$work/github-org.yaml"
"$sim" --fixture "$work/github-org.yaml" --addr "127.0.0.1:$sim_port" --speed 1 \
  --webhook-url "http://127.0.0.1:$webhook_port/webhook" --webhook-secret "$webhook_secret" >"$work/github-sim.log" 2>&1 &
sim_pid=$!
operator_pid=
cleanup() {
  if [ "$keep" = false ]; then
    # `wait` answers 143 for a process stopped by SIGTERM; that is the point here, not a failure.
    if [ -n "$operator_pid" ]; then kill "$operator_pid" 2>/dev/null || true; wait "$operator_pid" 2>/dev/null || true; fi
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    if [ "$started" = true ]; then scripts/control-plane.sh down >/dev/null; fi
  fi
  return 0
}
trap cleanup EXIT
# Stop at once, with its last words, when the simulator does not come up.
for attempt in $(seq 50); do
  curl -fs "$api_url/_sim/clock" >/dev/null && break
  if ! kill -0 "$sim_pid" 2>/dev/null || [ "$attempt" = 50 ]; then
    echo "demo: the GitHub simulator did not start; $work/github-sim.log says:" >&2
    tail -n 20 "$work/github-sim.log" >&2
    exit 1
  fi
  sleep 0.2
done

say "4/6  CRDs, and examples/ in a fresh namespace, pointed at the simulator"
"$operator" crd | kubectl apply -f - >/dev/null
kubectl wait --for condition=established --timeout=60s crd --all >/dev/null
ns="demo-$(date +%H%M%S)"
kubectl create namespace "$ns" >/dev/null
# The App's key is generated here; the example Secret only holds placeholders.
openssl genrsa -out "$work/app.pem" 2048 2>/dev/null
kubectl create secret generic github-app -n "$ns" --from-literal=appId=123456 --from-literal=installationId=7654321 \
  --from-file=privateKey="$work/app.pem" --from-literal=webhookSecret="$webhook_secret" >/dev/null
for example in organization repository buildplan healingpolicy; do kubectl apply -n "$ns" -f "examples/$example.yaml"; done
kubectl patch organization infinityxone -n "$ns" --type merge -p "{\"spec\":{\"apiUrl\":\"$api_url\"}}" >/dev/null
# The example plan runs nightly; this one builds everything now, four at a time.
kubectl apply -n "$ns" -f - <<EOF
apiVersion: orchestrator.infinityxone.io/v1alpha1
kind: BuildPlan
metadata:
  name: demo-build
spec:
  organizationRef:
    name: infinityxone
  maxParallel: 4
  timeoutMinutes: 10
  retryAttempts: 1
EOF

say "5/6  The operator (log: $work/operator.log)"
"$operator" run --namespace "$ns" --webhook-addr "127.0.0.1:$webhook_port" --metrics-addr "127.0.0.1:$metrics_port" \
  >"$work/operator.log" 2>&1 &
operator_pid=$!
python3 scripts/demo_watch.py --namespace "$ns" --timeout "${IO_DEMO_TIMEOUT:-300}" \
  --operator-pid "$operator_pid" --operator-log "$work/operator.log"

say "6/6  Summary"
kubectl get repositories -n "$ns" -o custom-columns='REPOSITORY:.spec.name,LANGUAGE:.status.language,BUILD:.status.buildCommand,DEPENDS ON:.status.dependencies[*].repository,HEALTHY:.status.conditions[?(@.type=="Healthy")].status'
echo
kubectl get buildplan demo-build -n "$ns" -o json | python3 scripts/demo_watch.py --plan-summary
echo
kubectl get buildplans,healingpolicies,organizations -n "$ns"
"$operator" manifest --org infinityxone -n "$ns" >"$work/repositories.json"
"$operator" report --org infinityxone -n "$ns" --format html >"$work/report.html"
"$operator" report --org infinityxone -n "$ns" --format md >"$work/report.md"
curl -fs "$api_url/_sim/requests" | python3 scripts/demo_watch.py --github-writes
echo
echo "Manifest:          $work/repositories.json"
echo "Compliance report: $work/report.html (and report.md)"
if [ "$keep" = true ]; then
  say "Still running"
  echo "eval \"\$(scripts/control-plane.sh env)\"; kubectl get infinity -n $ns"
  echo "simulated GitHub: $api_url (pid $sim_pid); operator pid $operator_pid, metrics http://127.0.0.1:$metrics_port/metrics"
  echo "stop with: kill $operator_pid $sim_pid; scripts/control-plane.sh down"
fi
