#!/usr/bin/env bash
# Installs GitHub's official OpenAPI description (npm package @octokit/openapi, pinned) into the user cache and prints
# the path of the api.github.com JSON description. Never copy the description into the repository.
set -euo pipefail

VERSION="${IO_OCTOKIT_OPENAPI_VERSION:-23.0.2}"
PREFIX="${HOME}/.cache/infinity-orchestrator/npm"
DESCRIPTION="${PREFIX}/node_modules/@octokit/openapi/generated/api.github.com.json"

if [[ ! -f "${DESCRIPTION}" ]]; then
  mkdir -p "${PREFIX}"
  npm install --silent --no-audit --no-fund --prefix "${PREFIX}" "@octokit/openapi@${VERSION}" >&2
fi
if [[ ! -f "${DESCRIPTION}" ]]; then
  echo "github-openapi.sh: ${DESCRIPTION} missing after installing @octokit/openapi@${VERSION}" >&2
  exit 1
fi
echo "${DESCRIPTION}"
