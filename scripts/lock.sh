#!/usr/bin/env bash
# Resolve pyproject.toml's dependency ranges (runtime + dev) afresh in a scratch venv and write
# the result to requirements.lock. Usage: scripts/lock.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3.11}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
pip="$scratch/venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet '.[dev]'
{
  echo "# pmtape's locked dependencies: runtime + dev, for Python 3.11 on Linux (x86_64)."
  echo "# Every install (make setup, make test, .ci/run) takes exactly these versions."
  echo "# Refresh with \`make lock\` (resolves pyproject.toml's ranges afresh), then run \`make test\`."
  "$pip" freeze --all --exclude pmtape | grep -v '^uvloop=='
  # uvloop has no Windows build; keep its marker so the lock stays installable there.
  "$pip" freeze --all | grep '^uvloop==' | sed "s/\$/ ; sys_platform != 'win32'/"
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) packages pinned"
