#!/usr/bin/env bash
# One-shot, idempotent set-up: system packages, the virtual environment and,
# unless SFCBENCH_NO_DOCKER=1, a running Docker daemon. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (Mininet and the testbed need it)" >&2
    exit 1
fi

bash scripts/setup-system.sh

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv (Debian's python3, so Mininet is importable)"
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing sfcbench and its Python dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

if [ "${SFCBENCH_NO_DOCKER:-0}" != 1 ]; then
    bash scripts/start-docker.sh
    # Base, DinD and VNF images: found, pulled, or built locally once (about a minute).
    .venv/bin/python -m testbed.images
fi
