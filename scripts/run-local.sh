#!/usr/bin/env bash
# The operator against the local control plane: starts etcd and kube-apiserver on loopback (building them once,
# cached), installs the CRDs, applies examples/ into the namespace `demo`, runs the operator, and shows what it did.
#   --keep   leave the control plane and the operator running (prints how to reach them)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Starting the local control plane (etcd + kube-apiserver 1.20 on 127.0.0.1)"
started=false
if ! scripts/control-plane.sh status; then started=true; fi
scripts/control-plane.sh up
eval "$(scripts/control-plane.sh env)"

say "Building the operator"
cargo build --quiet --bin infinity-orchestrator
operator=target/debug/infinity-orchestrator

say "Installing the CRDs"
"$operator" crd | kubectl apply -f -
kubectl wait --for condition=established --timeout=60s crd --all >/dev/null

say "Applying examples/ into namespace demo"
kubectl get namespace demo >/dev/null 2>&1 || kubectl create namespace demo
kubectl apply -n demo -f examples/

say "Running the operator"
"$operator" run --namespace demo >/tmp/infinity-orchestrator-operator.log 2>&1 &
operator_pid=$!
cleanup() {
  if [ "$keep" = false ]; then
    kill "$operator_pid" 2>/dev/null || true
    wait "$operator_pid" 2>/dev/null || true
    if [ "$started" = true ]; then scripts/control-plane.sh down; fi
  fi
}
trap cleanup EXIT
for kind in organizations repositories buildplans healingpolicies; do
  kubectl wait -n demo --for=condition=Ready=Unknown --timeout=60s "$kind" --all >/dev/null
done

say "What the operator reports"
kubectl get infinity -n demo
say "Conditions"
kubectl get infinity -n demo -o custom-columns='KIND:.kind,NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,REASON:.status.conditions[?(@.type=="Ready")].reason,MESSAGE:.status.conditions[?(@.type=="Ready")].message'
say "Events"
kubectl get events -n demo --sort-by=.metadata.creationTimestamp \
  -o custom-columns='TYPE:.type,REASON:.reason,KIND:.involvedObject.kind,NAME:.involvedObject.name,MESSAGE:.message'
if [ "$keep" = true ]; then
  say "Still running"
  echo "operator pid $operator_pid, log /tmp/infinity-orchestrator-operator.log"
  echo "eval \"\$(scripts/control-plane.sh env)\"; kubectl get infinity -n demo"
  echo "stop with: kill $operator_pid; scripts/control-plane.sh down"
fi
