#!/usr/bin/env bash
# The chart's alert rules, checked and unit-tested with promtool (Debian's prometheus package; scripts/test-packages.sh
# installs it): the rule file the PrometheusRule carries, and tests/alerts_test.yaml, which makes each alert fire and
# stay quiet. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../charts/infinity-orchestrator"
promtool check rules files/alerts.yaml
promtool test rules tests/alerts_test.yaml
