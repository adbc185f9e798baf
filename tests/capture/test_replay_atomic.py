"""A replay folder is all or nothing: a write that fails part-way leaves no DIR (and cleans up its
hidden partial folder), a folder interrupted before replay.json is refused by name, and a replay
is never written over an existing non-empty folder."""
from __future__ import annotations

import pytest

from appliance.capture.replay import ReplaySource, ReplayWriter, write_replay
from appliance.errors import AgmaError, ConfigError

from . import replay_frames


def test_failure_midway_leaves_nothing(tmp_path):
    def source():
        yield from replay_frames.frames(n=3)
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError):
        write_replay(tmp_path / "rec", source(), fps=30.0)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_is_recognised(tmp_path):
    w = ReplayWriter(tmp_path / "rec", fps=30.0)
    for f in replay_frames.frames(n=2):
        w.write(f)
    # the process dies here: no finish(), no abort()
    assert not (tmp_path / "rec").exists()
    (partial,) = tmp_path.iterdir()
    assert partial.name.startswith(".rec.partial-")
    with pytest.raises(ConfigError, match="interrupted"):
        ReplaySource(partial)
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "keep.txt").write_text("precious")
    with pytest.raises(AgmaError, match="already exists"):
        write_replay(tmp_path / "rec", replay_frames.frames(n=1), fps=30.0)
    assert (tmp_path / "rec" / "keep.txt").read_text() == "precious"


def test_empty_dir_is_fine_and_no_frames_is_an_error(tmp_path):
    (tmp_path / "rec").mkdir()
    write_replay(tmp_path / "rec", replay_frames.frames(n=1), fps=30.0)
    assert (tmp_path / "rec" / "replay.json").is_file()
    with pytest.raises(AgmaError, match="no frames"):
        write_replay(tmp_path / "other", [], fps=30.0)
    assert not (tmp_path / "other").exists()


def test_not_a_replay_folder(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        ReplaySource(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    with pytest.raises(ConfigError, match="not a replay folder"):
        ReplaySource(tmp_path / "junk")
