#!/usr/bin/env bash
# Installs GitHub's official OpenAPI description (npm package @octokit/openapi, pinned) into the user cache, keyed by
# version, and prints the path of the api.github.com JSON description. Never copy the description into the
# repository.
set -euo pipefail

VERSION="${IO_OCTOKIT_OPENAPI_VERSION:-23.0.2}"
CACHE="${IO_CACHE:-$HOME/.cache/infinity-orchestrator}"
PREFIX="${CACHE}/npm-octokit-openapi-${VERSION}"
DESCRIPTION="${PREFIX}/node_modules/@octokit/openapi/generated/api.github.com.json"

mkdir -p "${CACHE}"
# Parallel test processes call this at once; one installs, the others wait and reuse.
exec 9>"${CACHE}/.github-openapi.lock"
flock 9
if [[ ! -f "${DESCRIPTION}" ]]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "${PREFIX}"
  npm install --silent --no-audit --no-fund --prefix "${PREFIX}" "@octokit/openapi@${VERSION}" >&2
fi
if [[ ! -f "${DESCRIPTION}" ]]; then
  echo "github-openapi.sh: ${DESCRIPTION} missing after installing @octokit/openapi@${VERSION}" >&2
  exit 1
fi
echo "${DESCRIPTION}"
