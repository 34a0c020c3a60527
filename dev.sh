#!/usr/bin/env bash
# One entry point for a fresh Debian machine:
#   ./dev.sh demo   set up, then speak (with KUHU_API_KEY) or run the emulator demo
#   ./dev.sh test   set up, then ruff, mypy --strict and the whole test suite, then the
#                   audio tests on every CPython 3.10-3.13 (pyenv), installed as users do
# Both run the same idempotent setup first: system packages, .venv, the package.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=${PYTHON:-python3}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The default audio backend (miniaudio) installs from wheels and needs no system package;
# eSpeak NG is the local voice that speaks when the cloud cannot (KUHU_FALLBACK).
# The tests add: PulseAudio and ALSA's pulse plugin for the real-time audio rig, openssl
# for a self-signed certificate, and gcc with the ALSA headers, which simpleaudio (the
# optional backend, tested too) is compiled against.
RUN_PKGS=(espeak-ng)
TEST_PKGS=("${RUN_PKGS[@]}" gcc libasound2-dev pulseaudio pulseaudio-utils libasound2-plugins openssl)

setup() {
    local extras=$1
    shift
    local pkgs=("$@")
    need_apt=()
    for p in "${pkgs[@]}"; do have_pkg "$p" || need_apt+=("$p"); done
    if [ "${#pkgs[@]}" -gt 0 ] && [ "${#need_apt[@]}" -gt 0 ]; then
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
    local stamp="$VENV/.kuhu-installed$extras"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! "$VENV/bin/python" -c "import kuhu_driver" 2>/dev/null; then
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".$extras"
        touch "$stamp"
    fi
}

# The tests that play audio and check what was heard, and those that lean on the platform
# (file locks shared by processes, resumed saves, MP3 decoding), on every CPython we claim, each
# in its own venv with the package installed from a wheel (not editable), as users get
# it. Between them: pyttsx3 2.90 and the newest; simpleaudio stock where it is safe,
# stock on 3.12 (where it must be refused, not crash), and the patched fork on 3.13.
MATRIX_TESTS=(test_paced.py test_playback.py test_fallback.py test_driver.py test_speak.py test_loading.py test_examples.py test_answers.py test_check.py test_resume.py test_ratelimit.py)
matrix() {
    local root=${PYENV_ROOT:-/root/.pyenv} v py venv
    for v in 3.10 3.11 3.12 3.13; do
        py=$(ls -d "$root"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -n 1)
        if [ -z "$py" ]; then
            echo "matrix: no CPython $v under $root/versions" >&2
            [ -n "${CI:-}" ] && exit 1
            continue
        fi
        venv=.venv-matrix/$v
        echo "matrix: CPython $v ($py)" >&2
        "$py" -m venv --clear "$venv"
        local pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
        case $v in
            3.10) "${pip[@]}" ".[test,simpleaudio]" "pyttsx3==2.90" ;;
            3.12) "${pip[@]}" ".[test]" "simpleaudio==1.0.4" ;;
            *) "${pip[@]}" ".[test,simpleaudio]" ;;
        esac
        "$venv/bin/python" -c "import importlib.metadata as m, sys; print('matrix:', sys.version.split()[0], 'pyttsx3', m.version('pyttsx3'), 'miniaudio', m.version('miniaudio'))" >&2
        (cd tests && KUHU_EXPECT_INSTALLED=1 "../$venv/bin/python" -m pytest -q "${MATRIX_TESTS[@]}")
    done
}

cmd=${1:-}
shift || true
case "$cmd" in
    setup)
        setup "[test,simpleaudio]" "${TEST_PKGS[@]}"
        ;;
    demo)
        setup "" "${RUN_PKGS[@]}"
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
        setup "[test,simpleaudio]" "${TEST_PKGS[@]}"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy"
        "$VENV/bin/python" -m pytest "$@"
        matrix
        ;;
    matrix)
        setup "[test,simpleaudio]" "${TEST_PKGS[@]}"
        matrix
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | matrix | setup" >&2
        exit 2
        ;;
esac
