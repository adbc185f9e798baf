"""`--model trt:PATH` (alias of tensorrt:PATH) is refused in ONE line where it cannot run, through a real `agma`.

On a machine without TensorRT, `agma record --model trt:F.engine` must exit 1 with exactly one
line on stderr that says TensorRT is not installed here and how to run it on the box (JetPack's
python3-libnvinfer, a venv with --system-site-packages), and nothing recorded; a missing engine
file is named first, whatever is installed. The alias is accepted by the config check (a typo
such as trtx: is not), for the key and the flag alike.
"""
from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import agma

needs_no_tensorrt = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                                       reason="tensorrt is installed: this is the machine without it")


def _stderr_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("kind", ["trt", "tensorrt"])
def test_a_missing_engine_is_named(tmp_path, kind):
    proc = agma("record", "--db", str(tmp_path / "a.sqlite"), "--duration", "1",
                "--model", f"{kind}:{tmp_path / 'gone.engine'}")
    assert proc.returncode == 1
    lines = _stderr_lines(proc)
    assert lines == [f"agma record: {tmp_path / 'gone.engine'}: no such TensorRT engine file"]
    assert not (tmp_path / "a.sqlite").exists()


@needs_no_tensorrt
@pytest.mark.parametrize("via", ["flag", "key"])
def test_without_tensorrt_one_line_says_how_to_run_it_on_the_box(tmp_path, via):
    engine = tmp_path / "w32.engine"
    engine.write_bytes(b"\x00" * 64)
    args = ["record", "--db", str(tmp_path / "a.sqlite"), "--duration", "1"]
    env = None
    if via == "flag":
        args += ["--model", f"trt:{engine}"]
    else:
        env = {"AGMA_POSE__MODEL": f"trt:{engine}"}
    proc = agma(*args, env=env)
    assert proc.returncode == 1
    lines = _stderr_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("agma record: TensorRT is not installed here")
    assert "python3-libnvinfer" in lines[0] and "--system-site-packages" in lines[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "a.sqlite").exists()


def test_a_typo_of_the_alias_is_a_config_error(tmp_path):
    proc = agma("record", "--db", str(tmp_path / "a.sqlite"), "--duration", "1", "--model", "trtx:x.engine")
    assert proc.returncode != 0
    lines = _stderr_lines(proc)
    assert len(lines) == 1 and "alias 'trt:PATH'" in lines[0] and "'trtx:x.engine'" in lines[0]
