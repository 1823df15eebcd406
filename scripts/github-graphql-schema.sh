#!/usr/bin/env bash
# Installs GitHub's GraphQL schema (npm package @octokit/graphql-schema, pinned) into the user cache, keyed by version,
# and prints the path of its `schema.graphql` (GitHub's public schema in SDL). Never copy the schema into the
# repository.
set -euo pipefail

VERSION="${IO_OCTOKIT_GRAPHQL_SCHEMA_VERSION:-15.26.1}"
CACHE="${IO_CACHE:-$HOME/.cache/infinity-orchestrator}"
PREFIX="${CACHE}/npm-octokit-graphql-schema-${VERSION}"
SCHEMA="${PREFIX}/node_modules/@octokit/graphql-schema/schema.graphql"

mkdir -p "${CACHE}"
# Parallel test processes call this at once; one installs, the others wait and reuse.
exec 9>"${CACHE}/.github-graphql-schema.lock"
flock 9
if [[ ! -f "${SCHEMA}" ]]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "${PREFIX}"
  npm install --silent --no-audit --no-fund --prefix "${PREFIX}" "@octokit/graphql-schema@${VERSION}" >&2
fi
if [[ ! -f "${SCHEMA}" ]]; then
  echo "github-graphql-schema.sh: ${SCHEMA} missing after installing @octokit/graphql-schema@${VERSION}" >&2
  exit 1
fi
echo "${SCHEMA}"
