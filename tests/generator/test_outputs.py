"""Output files: safe folder names for hostile ids, and atomic writes that leave nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.outputs import safe_name, write_atomic, write_json


@pytest.mark.parametrize("entity_id", ["../../etc", "CON", "con.txt", "a/b", "..", "", "x" * 300, "LPT1", "é漢"])
def test_hostile_ids_stay_inside_the_output_folder(tmp_path: Path, entity_id: str) -> None:
    name = safe_name(entity_id)
    assert "/" not in name and "\\" not in name and name not in (".", "..")
    assert name.split(".")[0].lower() not in {"con", "lpt1"}
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert len(name) <= 100


def test_plain_ids_keep_their_name_and_changed_ids_do_not_collide() -> None:
    assert safe_name("AAPL") == "AAPL"
    assert safe_name("BRK.B") == "BRK.B"
    assert safe_name("a/b") != safe_name("a_b")
    assert safe_name("a/b") == safe_name("a/b")


def test_write_atomic_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    write_json(target, {"a": 1})
    write_atomic(target, "replaced")
    assert target.read_text() == "replaced"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_write_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"a": float("nan")})
    assert list(tmp_path.iterdir()) == []
