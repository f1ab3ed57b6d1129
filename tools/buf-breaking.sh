#!/usr/bin/env bash
# Breaking-change gate: the contracts must stay compatible with main's previous commit.
# BUF_BREAKING_AGAINST overrides the baseline (any buf input).
set -euo pipefail
against="${BUF_BREAKING_AGAINST:-}"
if [ -z "$against" ]; then
  if ! git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
    echo "buf breaking: no previous commit to compare against (first commit or shallow clone); skipped"
    exit 0
  fi
  if [ -z "$(git ls-tree -r --name-only 'HEAD~1' -- buf.yaml)" ]; then
    echo "buf breaking: previous commit has no buf.yaml; skipped"
    exit 0
  fi
  against=".git#ref=HEAD~1"
fi
echo "buf breaking --against $against"
buf breaking --against "$against"
# buf does not look at google.api.http bindings: a removed or changed REST route fails here.
python -m services.cli.contracts --against "$against"
