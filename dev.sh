#!/usr/bin/env bash
# One entry point for a fresh Debian machine:
#   ./dev.sh demo   set up, then speak (with KUHU_API_KEY) or run the emulator demo
#   ./dev.sh test   set up, then ruff, mypy --strict and the whole test suite
# Both run the same idempotent setup first: system packages, .venv, the package.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=${PYTHON:-python3}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

setup() {
    local extra=("$@")
    # simpleaudio ships no Linux wheel: pip compiles it against the ALSA headers.
    local pkgs=(gcc libasound2-dev "${extra[@]}")
    need_apt=()
    for p in "${pkgs[@]}"; do have_pkg "$p" || need_apt+=("$p"); done
    if [ "${#need_apt[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            echo "setup: installing ${need_apt[*]}" >&2
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
        else
            echo "setup: missing system packages; run:" >&2
            echo "  sudo apt-get install -y ${need_apt[*]}" >&2
            exit 1
        fi
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    # Re-install only when pyproject.toml changed since the last install.
    local stamp="$VENV/.kuhu-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! "$VENV/bin/python" -c "import kuhu_driver, pytest" 2>/dev/null; then
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
        touch "$stamp"
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    setup)
        setup pulseaudio pulseaudio-utils libasound2-plugins openssl
        ;;
    demo)
        setup
        sentence="你好，这是酷湖语音合成。Hello from kuhu_driver."
        if [ -n "${KUHU_API_KEY:-}" ]; then
            # A real voice: played, or saved with --out demo.wav when there is no sound card.
            exec "$VENV/bin/kuhu-say" "$@" "$sentence"
        fi
        echo "demo: no KUHU_API_KEY, so using the built-in emulator" >&2
        "$VENV/bin/kuhu-say" --emulator --out demo.wav "$@" "$sentence"
        echo "demo: wrote demo.wav; set KUHU_API_KEY to hear a real voice" >&2
        ;;
    test)
        # The paced audio rig (PulseAudio null sink) and a self-signed certificate
        # (openssl) are part of the test suite.
        setup pulseaudio pulseaudio-utils libasound2-plugins openssl
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy"
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | setup" >&2
        exit 2
        ;;
esac
