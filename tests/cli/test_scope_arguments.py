"""`--scope` on `pipeline ask` and `pipeline index`: a bad name is one line and exit 2, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.scope_values import REFUSED_SCOPES

QUESTION = "Which ledger code does the Kestrel project use?"


@pytest.mark.parametrize("bad", [s for s in REFUSED_SCOPES if "\x00" not in s])  # argv cannot hold NUL
def test_a_bad_scope_is_refused_in_one_line(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\nText.\n")
    for args, says in (
        (
            ["ask", QUESTION, "--scope", "finance", "--scope", bad],
            "pipeline: error: invalid question: --scope: a scope name is",
        ),
        (["index", str(doc), "--scope", bad], "pipeline: error: invalid --scope: a scope name is"),
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith(says) and err.count("\n") == 1, err
        assert len(bad) <= 3 or bad not in err  # the rule is said, the value is not echoed
    assert not (tmp_path / "data").exists()  # nothing was indexed or started


def test_index_takes_either_scopes_or_unscoped(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["index", "docs", "--scope", "hr", "--unscoped"])
    assert exited.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_index_passes_scopes_through_none_keeps_and_unscoped_clears(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str] | None] = []
    reanswers: list[bool] = []
    monkeypatch.setattr(
        "cli.index_command.run_index",
        lambda paths, *, recreate, scopes, reanswer: seen.append(scopes) or reanswers.append(reanswer) or 0,
    )
    main(["index", "docs", "--scope", "hr", "--scope", "finance"])
    main(["index", "docs"])
    main(["index", "docs", "--unscoped", "--reanswer"])
    assert seen == [["hr", "finance"], None, []]
    assert reanswers == [False, False, True]
