"""The text summary of `agma record` explains itself before any figure.

Wave 1's summary never said the model was simulated ("15.4 mm ... paper 17.2 mm" read as if the
box beat the paper) and left "ended duration", 3DPCK, "2D PCK (torso)" and dropped frames
unexplained. Now it opens with one plain line each for a nurse, an IT technician and a
researcher, then the figures, each with what it means. The figures are the --json summary's.
"""
from __future__ import annotations

import re

from appliance.commands.record import END_REASON_WORDS, format_summary
from tests.helpers import agma, last_json

ARGS = ("record", "--duration", "2", "--as-fast-as-possible", "--seed", "5")
ENV = {"AGMA_SIM__RENDER": "false", "AGMA_STORE__DUMP_DIR": "off"}


def _figure(text: str, label: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.strip().startswith(label)]
    return line


def test_text_summary_explains_and_matches_the_json(tmp_path):
    text = agma(*ARGS, "--db", str(tmp_path / "t.sqlite"), env=ENV, check=True).stdout
    s = last_json(agma(*ARGS, "--db", str(tmp_path / "j.sqlite"), "--json", env=ENV, check=True))
    lines = text.splitlines()
    assert [ln.split(":", 1)[0] for ln in lines[:3]] == ["For the nurse", "For IT", "For the researcher"]
    assert not any(re.search(r"\d", ln) for ln in (lines[0].split("all 2 s")[0], lines[2]))  # plain words first
    assert "all 2 s are saved (a simulated infant" in lines[0] and "never images" in lines[0]
    assert f"{s['frames']} frames saved in {tmp_path / 't.sqlite'}, 0 dropped" in lines[1]
    assert "SIMULATED" in lines[2] and "not a better result" in lines[2]
    assert lines[3] == ""
    assert _figure(text, "ended") == "ended          duration: reached its set length"
    assert "dropped: frames the camera delivered while the box was still busy" in text
    a = s["accuracy"]
    assert _figure(text, "3D mean error").startswith(f"  3D mean error   {a['mean_mm']:.1f} mm, STD {a['std_mm']:.1f} mm")
    assert _figure(text, "3DPCK  ").startswith(f"  3DPCK           @1cm {a['pck_10mm']:.1f}  @2.5cm {a['pck_25mm']:.1f}")
    assert _figure(text, "2D PCK (torso)").startswith(f"  2D PCK (torso)  @0.05 {a['pck2d_05']:.1f}")
    assert "% of all joints within 1, 2.5, 5 and 10 cm of the true one in 3D" in text
    assert "torso heights (right shoulder to right hip)" in text


def _summary(**changes) -> dict:
    s = {"session_id": "box-20260101T000000Z-abcd", "frames": 5400, "fps": 30.0, "dropped_frames": 3,
         "valid_joint_ratio": 0.5, "end_reason": "stopped", "error": None, "continues_session": None,
         "db": "/var/lib/agma/agma.sqlite", "dump": None, "elapsed_s": 180.0, "accuracy": None}
    s.update(changes)
    return s


def test_a_real_camera_session_reads_plainly():
    text = format_summary(_summary(), model="tensorrt:/opt/m.engine", source="uvc", fps_nominal=30.0)
    nurse, it, research = text.splitlines()[:3]
    assert nurse == ("For the nurse:      the recording stopped by hand (Ctrl-C); all 3 min 0 s are saved, "
                     "as joint positions only, never images. Nothing else to do.")
    assert "3 dropped (the box fell behind the camera at times)" in it and "no dump was written" in it
    assert "no ground truth" in research and "SIMULATED" not in text and "accuracy" not in text.split("\n\n", 1)[1]


def test_an_early_end_asks_the_nurse_to_tell_it():
    text = format_summary(_summary(end_reason="disk_full", error="free space below 256 MB"), model="simulated",
                          source="synthetic", fps_nominal=30.0)
    assert text.splitlines()[0].endswith("Tell IT.") and "stopped early" in text.splitlines()[0]
    assert "ended          disk_full: stopped early: the disk is nearly full (free space below 256 MB)" in text


def test_every_end_reason_has_words():
    from appliance.store.schema import END_REASONS

    assert set(END_REASON_WORDS) == set(END_REASONS)
