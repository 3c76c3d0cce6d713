"""xdub.atomic: a write appears complete or not at all, and leaves no temp files behind."""

import json

import pytest

from xdub.atomic import atomic_dir, atomic_path, write_json_atomic, write_text_atomic
from xdub.errors import OutputError


def test_write_replaces_and_keeps_the_suffix(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and ".partial" in tmp.name
        assert not tmp.exists()
        tmp.write_text("new")
    assert path.read_text() == "new"
    write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path):
    path = tmp_path / "a.txt"
    write_text_atomic(path, "old")
    with pytest.raises(ValueError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise ValueError("boom")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_os_errors_become_one_line_output_errors(tmp_path):
    with pytest.raises(OutputError, match="cannot write"):
        write_text_atomic(tmp_path / "missing" / "a.txt", "x")


def test_folder_is_replaced_whole(tmp_path):
    out = tmp_path / "ckpt"
    with atomic_dir(out) as tmp:
        (tmp / "old.bin").write_bytes(b"1")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "new.bin").write_bytes(b"2")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["old.bin"]
    with atomic_dir(out) as tmp:
        (tmp / "new.bin").write_bytes(b"2")
    assert sorted(p.name for p in out.iterdir()) == ["new.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
