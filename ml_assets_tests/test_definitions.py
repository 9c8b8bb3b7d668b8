import subprocess
import sys

import dagster as dg

from ml_assets.definitions import defs
from ml_assets_tests.conftest import child_env


def test_definitions_hold_the_whole_graph() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw_data", "quarantined_rows", "cleaned_features", "trained_model", "model_evaluation"} <= keys
    assert "registered_model" in keys
    assert graph.get(dg.AssetKey("cleaned_features")).parent_keys == {dg.AssetKey("raw_data")}
    assert dg.AssetKey("trained_model") in graph.get(dg.AssetKey("registered_model")).parent_keys


def test_every_asset_has_a_group_and_kinds() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name != "default", key
        assert node.kinds, key


def test_definitions_load_without_heavy_imports(tmp_path) -> None:
    code = (
        "import sys, ml_assets.definitions\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'mlflow', 'pandera', 'pyarrow') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dagster_definitions_validate_passes(tmp_path) -> None:
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "ml_assets.definitions"],
        capture_output=True,
        text=True,
        env=child_env(home, DAGSTER_HOME=str(tmp_path)),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
