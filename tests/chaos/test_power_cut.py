"""A power cut (every unsynced write lost, see `power_cut.py`): PIPELINE_DURABILITY=power-loss keeps all that was
acknowledged. The control, that the default loses such writes under the same shim, is in `bench/durability.py`
(bench/RESULTS-durability.md), to keep this suite's time down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.power_cut import build_shim, run_power_cut

pytestmark = pytest.mark.chaos


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = build_shim(tmp_path_factory.mktemp("shim"))
    if built is None:
        pytest.skip("no C compiler to build the sync-shadow shim")
    return built


def test_power_loss_durability_keeps_every_acknowledged_start_and_finished_run(tmp_path: Path, shim: Path) -> None:
    figures = run_power_cut(tmp_path, shim, durability="power-loss")
    assert figures["acknowledged_starts"] == 20 and figures["seen_completed"] >= 10, figures
    assert (figures["lost_starts"], figures["lost_completions"]) == (0, 0), figures
    assert figures["state_file_intact"], figures
    assert figures["shadowed_files"], figures  # the shim was loaded and saw the syncs
