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
  # On a branch, compare with main; on main itself, with the commit before.
  if [ "$(git rev-parse --abbrev-ref HEAD)" != "main" ] && git rev-parse -q --verify 'main^{commit}' >/dev/null; then
    against=".git#branch=main"
  else
    against=".git#ref=HEAD~1"
  fi
fi
echo "buf breaking (FILE) --against $against"
buf breaking --against "$against"
# WIRE_JSON on its own as well: the JSON names that REST clients and the transcoder rely on.
# (FILE includes these rules; running them separately names the class of break in CI output.)
wire_json='{"version":"v2","modules":[{"path":"proto"},{"path":"third_party/googleapis"}],
  "breaking":{"use":["WIRE_JSON"],"ignore":["third_party/googleapis"]}}'
echo "buf breaking (WIRE_JSON) --against $against"
buf breaking --against "$against" --config "$wire_json"
# buf does not look at google.api.http bindings: a removed or changed REST route fails here.
python -m services.cli.contracts --against "$against"
