"""Let ``pyttsx3.init(name)`` find drivers that other packages register by entry point.

This is a top-level module, not part of the ``kuhu_driver`` package, so that loading it
at interpreter start imports nothing else of ours (and pytest can still rewrite our
plugin's asserts).

pyttsx3 imports ``pyttsx3.drivers.<name>``. This finder, placed last on ``sys.meta_path``,
answers such an import when pyttsx3 has no module of that name and an installed package
declares ``<name>`` in the ``pyttsx3.drivers`` entry point group. It is installed at
interpreter start by ``kuhu_driver_hook.pth``, so it must stay cheap: it imports neither
pyttsx3 nor httpx, and reads the entry points only when such an import happens.

PYTEST_DONT_REWRITE: pytest would otherwise warn, in every test run of a project that has
kuhu_driver installed, that this module (imported at start-up) cannot be rewritten.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys

#: typing itself costs 15 ms to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False

# No importlib.abc here: it imports importlib.resources, 25 ms at every interpreter
# start. Finders and loaders are duck-typed. Names used only in annotations are not
# imported at run time either (collections.abc alone costs 4 ms).
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

__all__ = ["GROUP", "install"]

GROUP = "pyttsx3.drivers"
_PREFIX = "pyttsx3.drivers."
_DISTS = (".dist-info", ".egg-info")


def _lookup(name: str) -> str | None:
    """``module[:attr]`` registered for driver ``name``, or ``None``.

    The installed distributions in sys.path's folders are read directly (each one's
    ``entry_points.txt``, a few small files); the ``entrypoints`` package, which also
    reads zipped and egg distributions but costs 15 ms of imports, is asked only when
    sys.path holds such a file and the folders had nothing."""
    import os

    zipped = False
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as listing:
                names = sorted(
                    e.name for e in listing if e.name.endswith((".dist-info", ".egg-info"))
                )
        except NotADirectoryError:
            zipped = True
            continue
        except OSError:
            continue
        for dist in names:
            # os.path, not pathlib: this module is loaded at every interpreter start.
            found = _in_file(os.path.join(entry or ".", dist, "entry_points.txt"), name)  # noqa: PTH118
            if found is not None:
                return found
    if not zipped:
        return None
    import entrypoints  # only now: it scans every distribution, zipped ones too

    try:
        ep = entrypoints.get_single(GROUP, name)
    except entrypoints.NoSuchEntryPoint:
        return None
    return f"{ep.module_name}:{ep.object_name}" if ep.object_name else ep.module_name


def _in_file(path: str, name: str) -> str | None:
    """``name``'s target in the ``pyttsx3.drivers`` section of an entry_points.txt."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    section = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == GROUP and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            if key.strip() == name:
                return value.split("[", 1)[0].strip() or None
    return None


class _Loader:
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module_name, _, attr = self.target.partition(":")
        real = importlib.import_module(module_name)
        source = getattr(real, attr) if attr else real
        # The alias module exposes what pyttsx3 needs (buildDriver) and forwards the rest.
        module.buildDriver = source.buildDriver  # type: ignore[attr-defined]
        module.__getattr__ = lambda name: getattr(source, name)  # type: ignore[method-assign]
        module.__doc__ = source.__doc__


class EntryPointDriverFinder:
    """Finds ``pyttsx3.drivers.<name>``: among the drivers a package named to
    ``install`` (``known``), then in the ``pyttsx3.drivers`` entry point group."""

    is_pyttsx3_entry_point_finder = True

    def __init__(self) -> None:
        #: Driver name -> ``module[:attr]``, given by ``install`` (frozen programs have
        #: no dist-info for the entry points to be read from).
        self.known: dict[str, str] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        name = fullname[len(_PREFIX) :]
        if not name or "." in name:
            return None
        found = self.known.get(name) or _lookup(name)
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(found))  # type: ignore[arg-type]


def install(known: dict[str, str] | None = None) -> None:
    """Put the finder last on ``sys.meta_path`` (once): pyttsx3's own drivers win.
    ``known`` maps driver names to their modules directly: a program frozen by
    PyInstaller, Nuitka or py2app keeps the modules but drops the ``dist-info`` that
    the entry points are read from."""
    finder = next(
        (f for f in sys.meta_path if getattr(f, "is_pyttsx3_entry_point_finder", False)), None
    )
    if finder is None:
        finder = EntryPointDriverFinder()
        sys.meta_path.append(finder)
    known_now = getattr(finder, "known", None)
    if known and isinstance(known_now, dict):
        known_now.update(known)
