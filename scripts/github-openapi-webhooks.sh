#!/usr/bin/env bash
# Installs GitHub's official webhooks description (npm package @octokit/openapi-webhooks, pinned) into the user
# cache, keyed by version, and prints the path of the api.github.com JSON description: an OpenAPI 3.1 document whose
# `webhooks` hold one entry per event and action, each with the payload's schema. Never copy it into the repository.
set -euo pipefail

VERSION="${IO_OCTOKIT_OPENAPI_WEBHOOKS_VERSION:-12.1.0}"
CACHE="${IO_CACHE:-$HOME/.cache/infinity-orchestrator}"
PREFIX="${CACHE}/npm-octokit-openapi-webhooks-${VERSION}"
DESCRIPTION="${PREFIX}/node_modules/@octokit/openapi-webhooks/generated/api.github.com.json"

mkdir -p "${CACHE}"
# Parallel test processes call this at once; one installs, the others wait and reuse.
exec 9>"${CACHE}/.github-openapi-webhooks.lock"
flock 9
if [[ ! -f "${DESCRIPTION}" ]]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "${PREFIX}"
  npm install --silent --no-audit --no-fund --prefix "${PREFIX}" "@octokit/openapi-webhooks@${VERSION}" >&2
fi
if [[ ! -f "${DESCRIPTION}" ]]; then
  echo "github-openapi-webhooks.sh: ${DESCRIPTION} missing after installing @octokit/openapi-webhooks@${VERSION}" >&2
  exit 1
fi
echo "${DESCRIPTION}"
