"""A state file, outbox or index that is not one stops `pipeline serve` in one line naming it; nothing is deleted.

And the crash case SQLite itself repairs: a WAL cut off part-way through a frame (the process died while writing)
is read up to its last whole commit.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.main import main
from embedded_host.store import SCHEMA_VERSION, connect
from tests.processes import free_port


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, it is a note someone saved here\n" * 40)


def _newer_version(own_table: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(f"CREATE TABLE {own_table} (x)")
            db.execute("PRAGMA user_version = 99")

    return make


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, jpeg BLOB)")


CASES = [
    ("durable.sqlite", _garbage, "is not a SQLite database"),
    ("durable.sqlite", _newer_version("instances"), "has schema version 99"),
    ("durable.sqlite", _foreign, "of something else"),
    ("events.sqlite3", _garbage, "is not a SQLite database"),
    ("events.sqlite3", _newer_version("events"), "has schema version 99"),
    ("index/index.sqlite", _garbage, "is not a SQLite database"),
    ("index/index.sqlite", _foreign, "of something else"),
]


@pytest.mark.parametrize(("name", "make", "said"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_serve_refuses_an_unusable_file_in_one_line_naming_it_and_leaves_it_as_it_was(
    name: str, make: Callable[[Path], None], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "data").chmod(0o700)
    make(path)
    before = path.read_bytes()

    code = main(["serve", "--port", str(free_port())])

    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1, err
    assert err[0].startswith("pipeline: error: ") and str(path) in err[0] and said in err[0], err
    assert "move it aside" in err[0] and "never deletes" in err[0]
    assert path.read_bytes() == before  # not deleted, not rewritten


def test_a_wal_cut_off_mid_frame_after_a_crash_is_read_up_to_its_last_whole_commit(tmp_path: Path) -> None:
    live = tmp_path / "live" / "durable.sqlite"
    conn = connect(live)
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # every commit stays in the WAL, as between checkpoints
    for i in range(50):
        conn.execute(
            "INSERT INTO entities (entity_id, state, last_modified_time) VALUES (?, ?, 'now')", (f"e{i}", "x" * 500)
        )
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):  # the files as a killed process leaves them (no checkpoint, no clean close)
        shutil.copyfile(f"{live}{suffix}", crashed / f"durable.sqlite{suffix}")
    conn.close()
    wal = crashed / "durable.sqlite-wal"
    size = wal.stat().st_size
    with wal.open("r+b") as cut:
        cut.truncate(size - 700)  # the last frame is torn: the write was under way when the process died

    recovered = connect(crashed / "durable.sqlite")
    try:
        assert recovered.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = recovered.execute("SELECT COUNT(*) FROM entities").fetchone()[0]
        assert recovered.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        recovered.close()
    assert 40 <= count < 50  # the torn commit (and only what the cut reached) is gone; the rest is all there


def test_other_commands_say_the_same_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data" / "durable.sqlite"
    path.parent.mkdir(parents=True)
    _garbage(path)

    code = main(["status", "some-run"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1, err
    assert err[0].startswith(f"pipeline: error: {path} is not a SQLite database") and "move it aside" in err[0]
