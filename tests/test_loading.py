"""Loading by name, in fresh interpreters that never import kuhu_driver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import expected_pcm

from kuhu_driver.testing import KuhuEmulator

ROOT = Path(__file__).resolve().parent.parent


def run(
    code: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def test_interpreter_start_loads_only_the_tiny_hook() -> None:
    proc = run(
        "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kuhu_driver', 'kuhu_driver_hook', 'pyttsx3', 'httpx', 'entrypoints', 'simpleaudio', "
        "'miniaudio')))"
    )
    assert proc.stdout.strip() == "['kuhu_driver_hook']"


def test_init_by_name_in_a_program_that_never_imports_kuhu_driver(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    proc = run(
        "import sys, pyttsx3\n"
        "assert 'kuhu_driver' not in sys.modules\n"
        "e = pyttsx3.init('kuhu')\n"
        "print(type(e.proxy._driver).__name__)\n"
        "e.say('加载')\n"
        "e.runAndWait()\n"
        "print(pyttsx3.init('dummy').proxy._driver.__class__.__name__)\n",
        env=kuhu_emulator.env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["KuhuDriver", "DummyDriver"]  # pyttsx3's own still win
    assert capture.read() == expected_pcm(kuhu_emulator, "加载")


def test_any_package_can_register_a_driver_by_entry_point(tmp_path: Path) -> None:
    (tmp_path / "fakedriver.py").write_text(
        "class D:\n"
        "    def __init__(self, proxy): self.proxy = proxy\n"
        "def buildDriver(proxy):\n"
        "    return D(proxy)\n"
    )
    dist = tmp_path / "fakedriver-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedriver\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pyttsx3.drivers]\nfake = fakedriver\n")
    proc = run(
        "import pyttsx3; print(type(pyttsx3.init('fake').proxy._driver).__module__)",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fakedriver"


def test_unknown_driver_is_still_an_import_error() -> None:
    proc = run("import pyttsx3; pyttsx3.init('no_such_driver_xyz')")
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr


def test_missing_key_fails_at_init_naming_the_variable_when_fallback_is_off() -> None:
    """With the fallback on (the default) the local voice speaks without a key (see
    test_fallback.py); with it off, a missing key is an error at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUHU_")}
    env["KUHU_FALLBACK"] = "off"
    proc = subprocess.run(
        [sys.executable, "-c", "import pyttsx3; pyttsx3.init('kuhu')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "KUHU_API_KEY" in proc.stderr
    assert "ConfigError" in proc.stderr


def test_import_kuhu_driver_registers_the_driver_without_the_pth() -> None:
    import site

    import kuhu_driver

    paths = [*site.getsitepackages(), str(Path(kuhu_driver.__file__).parent.parent)]
    # -S: no site module, so no .pth file runs; only `import kuhu_driver` can register.
    code = (
        f"import sys; sys.path[:0] = {paths!r}\n"
        "import pyttsx3\n"
        "try:\n"
        "    pyttsx3.init('kuhu')\n"
        "except ModuleNotFoundError:\n"
        "    print('not registered yet')\n"
        "import kuhu_driver, os\n"
        "os.environ['KUHU_API_KEY'] = 'k'\n"
        "print(type(pyttsx3.init('kuhu').proxy._driver).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["not registered yet", "KuhuDriver"]


def test_the_hook_finds_drivers_in_folders_and_in_zipped_distributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    import kuhu_driver_hook

    entry = "[pyttsx3.drivers]\nfolderdrv = folder_module:build [extra]\n"
    dist = tmp_path / "site" / "folder_drv-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "entry_points.txt").write_text(entry, encoding="utf-8")
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped_drv-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped-drv\n")
        z.writestr(
            "zipped_drv-1.0.dist-info/entry_points.txt", "[pyttsx3.drivers]\nzipdrv = zip_mod\n"
        )
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), str(archive), *sys.path])
    assert kuhu_driver_hook._lookup("folderdrv") == "folder_module:build"
    assert kuhu_driver_hook._lookup("zipdrv") == "zip_mod"  # through entrypoints
    assert kuhu_driver_hook._lookup("kuhu") == "kuhu_driver.driver"
    assert kuhu_driver_hook._lookup("nosuchdriver") is None


def test_a_frozen_program_finds_the_driver_once_it_imports_kuhu_driver(tmp_path: Path) -> None:
    """PyInstaller, Nuitka and py2app keep the modules but drop the dist-info folders
    the entry points are read from: a bundle of our package and pyttsx3, with no
    dist-info and no site-packages, still gets the driver by name."""
    import shutil

    import pyttsx3

    import kuhu_driver
    import kuhu_driver_hook

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copytree(Path(kuhu_driver.__file__).parent, bundle / "kuhu_driver")
    shutil.copytree(Path(pyttsx3.__file__).parent, bundle / "pyttsx3")
    shutil.copy(kuhu_driver_hook.__file__, bundle / "kuhu_driver_hook.py")
    program = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import kuhu_driver, pyttsx3\n"
        "engine = pyttsx3.init('kuhu')\n"
        "print(type(engine.proxy._driver).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-s", "-c", program, str(bundle)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUHU_API_KEY": "k", "KUHU_API_URL": "http://127.0.0.1:9/api/x"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "KuhuDriver"


def test_the_installed_package_asks_for_a_miniaudio_with_the_wasapi_fixes() -> None:
    """miniaudio 1.59-1.61 bundle a miniaudio that crashes on Windows when the default
    device changes under an open stream; an engine keeps its stream open all its life."""
    from importlib import metadata

    from packaging.requirements import Requirement

    (req,) = [
        Requirement(r) for r in metadata.requires("kuhu-driver") or [] if r.startswith("miniaudio")
    ]
    assert not req.specifier.contains("1.61") and req.specifier.contains("1.70")
    assert req.specifier.contains(metadata.version("miniaudio"))
