#!/usr/bin/env bash
# One entry point for a fresh Debian machine:
#   ./dev.sh demo   set up, then speak (with KUHU_API_KEY) or run the emulator demo
#   ./dev.sh test   set up, then ruff, mypy --strict (for Linux, Windows and macOS) and the
#                   whole test suite, with the audio and platform tests on every CPython
#                   3.10-3.13 (pyenv), installed as users do, all side by side
# Both run the same idempotent setup first: system packages, .venv, the package.
set -euo pipefail
CALLER_DIR=$PWD  # the demo writes its file where it was run from
cd "$(dirname "$0")"

VENV=.venv
PY=${PYTHON:-python3}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The default audio backend (miniaudio) installs from wheels and needs no system package;
# eSpeak NG is the local voice that speaks when the cloud cannot (KUHU_FALLBACK).
# The tests add: PulseAudio and ALSA's pulse plugin for the real-time audio rig, tinyproxy
# (an HTTP proxy on loopback, for the CONNECT tests), openssl
# for a self-signed certificate, and gcc with the ALSA headers, which simpleaudio (the
# optional backend, tested too) is compiled against; Speech Dispatcher (a private server
# runs our module in the tests) and python3-speechd (its client, as Orca uses it).
RUN_PKGS=(espeak-ng)
# g++ too: miniaudio's own build script runs c++ when pip builds it from source, as it
# does where miniaudio has no wheel (a Raspberry Pi's 64-bit OS); one job here does so.
TEST_PKGS=("${RUN_PKGS[@]}" gcc g++ libasound2-dev pulseaudio pulseaudio-utils libasound2-plugins openssl tinyproxy
    speech-dispatcher python3-speechd)

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
# (file locks shared by processes, resumed saves, MP3 decoding, pyttsx3's internals), on
# every CPython we claim, each in its own venv with the package installed from a wheel
# (not editable), as users get it. Between them: pyttsx3 2.90 and the newest; simpleaudio
# stock where it is safe, stock on 3.12 (where it must be refused, not crash), and the
# patched fork on 3.13. Paths are relative to tests/.
MATRIX_TESTS=(audio driver local/test_local_helper.py local/test_fallback.py
    pipeline/test_speak.py pipeline/test_session.py
    cli/test_check.py pipeline/test_resume.py pipeline/test_stream.py pipeline/test_aio.py
    api/test_answers.py api/test_ratelimit.py api/test_exit.py api/test_ahead.py
    test_loading.py test_examples.py test_keystore.py pipeline/test_markup_heard.py
    speechd/test_protocol.py speechd/test_install.py)
PYTHONS=(3.10 3.11 3.12 3.13)
# Tests inside those folders that run once, on the default Python, in a job of their own
# beside the others: the device opened 220 times in one process (a minute of waiting on
# the sound server; the leak it guards against is the same on every CPython).
ONCE_TESTS=(audio/test_many_opens.py)

matrix_python() {
    ls -d "${PYENV_ROOT:-/root/.pyenv}"/versions/"$1".*/bin/python3 2>/dev/null | sort -V | tail -n 1
}

# One venv per CPython, the package installed from a wheel built once.
matrix_venv() {
    local v=$1 py venv wheel
    py=$(matrix_python "$v")
    venv=.venv-matrix/$v
    wheel=$(ls .test-logs/wheel/kuhu_driver-*.whl)
    "$py" -m venv --clear "$venv"
    local pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
    case $v in
        3.10) "${pip[@]}" "$wheel[test,simpleaudio]" "pyttsx3==2.90" ;;
        3.12) "${pip[@]}" "$wheel[test]" "simpleaudio==1.0.4" ;;
        *) "${pip[@]}" "$wheel[test,simpleaudio]" ;;
    esac
    "$venv/bin/python" -c "import importlib.metadata as m, sys; print('matrix:', sys.version.split()[0], 'pyttsx3', m.version('pyttsx3'), 'miniaudio', m.version('miniaudio'))"
}

# miniaudio built from its source distribution, as pip builds it where there is no wheel
# (Linux aarch64, Windows on ARM), on the default CPython; then the tests that play
# through it. The wheel it builds is tagged for this machine (linux_x86_64), not
# manylinux: checked, so a wheel fetched by mistake would fail the job.
SOURCE_TESTS=(audio/test_playback.py pipeline/test_speak.py)
source_venv() {
    local py venv=.venv-matrix/source wheel
    py=$(matrix_python 3.11)
    wheel=$(ls .test-logs/wheel/kuhu_driver-*.whl)
    "$py" -m venv --clear "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-binary miniaudio "$wheel[test]"
    "$venv/bin/python" - <<'PY'
import importlib.metadata as m
tags = [line for line in m.distribution("miniaudio").read_text("WHEEL").splitlines() if line.startswith("Tag:")]
print("source: miniaudio", m.version("miniaudio"), tags)
assert tags and all("manylinux" not in t and "musllinux" not in t for t in tags), tags
PY
}

matrix_run() {
    local v=$1
    shift
    local once=() t
    for t in "${ONCE_TESTS[@]}"; do once+=("--ignore=$t"); done
    (cd tests && KUHU_EXPECT_INSTALLED=1 "../.venv-matrix/$v/bin/python" -m pytest -q -p no:randomly "${once[@]}" "$@" "${MATRIX_TESTS[@]}")
}

# Jobs side by side, each into its own log (and its own pytest temp folder: pytest
# cleans up old temp folders of the user, and parallel runs would clean up each other's);
# every log printed whole at the end, and the run fails if any job failed.
declare -a JOB_PIDS=() JOB_NAMES=()
spawn() {
    local name=$1
    shift
    local temp=${TMPDIR:-/tmp}/kuhu-tests-$name  # short: sound servers make sockets in it
    rm -rf "$temp" && mkdir -p "$temp"
    (PYTEST_DEBUG_TEMPROOT=$temp "$@") >".test-logs/$name.log" 2>&1 &
    JOB_PIDS+=("$!")
    JOB_NAMES+=("$name")
}
reap() {
    local rc=0 i
    for i in "${!JOB_PIDS[@]}"; do
        if wait "${JOB_PIDS[$i]}"; then
            echo "=== ${JOB_NAMES[$i]}: passed" >&2
        else
            echo "=== ${JOB_NAMES[$i]}: FAILED" >&2
            rc=1
        fi
        cat ".test-logs/${JOB_NAMES[$i]}.log"
    done
    JOB_PIDS=()
    JOB_NAMES=()
    return $rc
}

static_checks() {
    "$VENV/bin/ruff" check . &&
        "$VENV/bin/ruff" format --check . &&
        "$VENV/bin/mypy" &&
        "$VENV/bin/mypy" --platform win32 &&
        "$VENV/bin/mypy" --platform darwin
}

matrix_prepare() {
    local v
    for v in "${PYTHONS[@]}"; do
        if [ -z "$(matrix_python "$v")" ]; then
            echo "matrix: no CPython $v under ${PYENV_ROOT:-/root/.pyenv}/versions" >&2
            exit 1
        fi
    done
    rm -rf .test-logs/wheel
    "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w .test-logs/wheel . >/dev/null
    for v in "${PYTHONS[@]}"; do spawn "venv-$v" matrix_venv "$v"; done
    spawn venv-source source_venv
    reap
}

# Two phases. Everything but the tests marked "alone" runs side by side: the main suite
# on the default Python and the matrix on each CPython; a test marked "timing" (3 ms
# seams, 50 ms stops, first sound) takes a machine-wide lock alone meanwhile, so no
# other test runs during it (tests/conftest.py). Then the "alone" tests, which count
# requests per second at an emulator in its own process, run one process at a time:
# with other test processes' sound servers and emulators beside them, a stalled
# emulator miscounted a burst on a host that steals CPU.
run_tests() {
    local ignore=() t v rc=0 start=$SECONDS
    for t in "${MATRIX_TESTS[@]}"; do ignore+=("--ignore=tests/$t"); done
    export KUHU_TEST_LOCK=$PWD/.test-logs/machine.lock
    spawn main "$VENV/bin/python" -m pytest -m "not alone" "${ignore[@]}" "$@"
    spawn once "$VENV/bin/python" -m pytest -m "not alone" "${ONCE_TESTS[@]/#/tests/}" "$@"
    for v in "${PYTHONS[@]}"; do spawn "matrix-$v" matrix_run "$v" -m "not alone"; done
    spawn source bash -c 'cd tests && KUHU_EXPECT_INSTALLED=1 ../.venv-matrix/source/bin/python -m pytest -q -p no:randomly -m "not alone" "$@"' _ "${SOURCE_TESTS[@]}"
    reap || rc=1
    echo "tests side by side: $((SECONDS - start)) s" >&2
    spawn alone-main "$VENV/bin/python" -m pytest -m alone "${ignore[@]}" "$@"
    reap || rc=1
    for v in "${PYTHONS[@]}"; do
        spawn "alone-$v" matrix_run "$v" -m alone
        reap || rc=1
    done
    echo "tests: $((SECONDS - start)) s" >&2
    return $rc
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
        "$VENV/bin/kuhu-say" --emulator --out "$CALLER_DIR/demo.wav" "$@" "$sentence"
        echo "demo: wrote $CALLER_DIR/demo.wav; set KUHU_API_KEY to hear a real voice" >&2
        ;;
    test)
        setup "[test,simpleaudio]" "${TEST_PKGS[@]}"
        mkdir -p .test-logs
        # The static checks beside the matrix's venvs being made (a fresh clone's three
        # cold mypy runs take most of a minute); matrix_prepare's reap fails the run if
        # they fail.
        spawn lint static_checks
        matrix_prepare
        run_tests "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | setup" >&2
        exit 2
        ;;
esac
