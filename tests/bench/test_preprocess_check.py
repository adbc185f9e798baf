"""`agma bench preprocess --check --json`: the GPU preprocessing kernel against the OpenCV path.

Why: the issue asks for the kernel's agreement with OpenCV as a number a person can read off the
box (``max_abs_diff_vs_opencv``, <= 1e-3 after normalisation), not only as a test. Here (no GPU) the
check runs the kernel's own source on the host shim over crops across the image's edges, inside,
magnifying, larger than the image and wholly outside, with the flip test: with the OpenCV pinned
here (5.1) the kernel is its arithmetic exactly, so the independent expectation is 0.0 and no value
differing (tests/pose/test_cuda_preprocess_host.py proves the same case by case). The GPU row says
why it is skipped rather than inventing a number. A check that fails must fail the command:
`agma bench` exits 1 naming the row.
"""
from __future__ import annotations

from appliance import bench
from appliance.commands import bench as bench_command
from tests.helpers import agma, last_json


def test_check_reports_the_kernel_against_opencv():
    proc = agma("bench", "preprocess", "--check", "--json", "--repeat", "5", timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in last_json(proc)["benches"]["preprocess"]}
    assert list(rows) == ["preprocess_cpu", "preprocess_cuda", "preprocess_cuda_host_check"]
    check = rows["preprocess_cuda_host_check"]
    assert check["max_abs_diff_vs_opencv"] == 0.0 and check["values_differing"] == 0
    assert check["values_compared"] == 5 * 4 * 3 * 384 * 288  # five cases, 4 outputs each (flip test)
    assert check["passed"] is True and check["bound"] == 1e-3 and check["median_us"] is None
    assert check["where_they_may_differ"]
    assert rows["preprocess_cpu"]["median_us"] > 0 and rows["preprocess_cpu"]["flip_test_median_us"] > 0
    gpu = rows["preprocess_cuda"]
    assert (gpu["median_us"] is None) == ("skipped_reason" in gpu)


def test_a_failed_check_exits_1_naming_the_row(monkeypatch, capsys):
    bench.load()
    monkeypatch.setitem(bench._REGISTRY, "failing", lambda args: [
        {"name": "preprocess_cuda_host_check", "median_us": None, "max_abs_diff_vs_opencv": 0.02, "passed": False}])
    args = type("A", (), {"names": ["failing"], "json": True})()
    assert bench_command.run(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["agma bench: check failed: failing/preprocess_cuda_host_check: passed is false "
                   "(its row says by how much)"]
