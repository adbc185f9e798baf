"""The stats topic's machine figures are read from the real files a Jetson has, and a missing one is None.

A fake sysfs/procfs tree in tmp_path stands for a Jetson (thermal zones in millidegrees, the GPU's
per-mille load file, /proc/stat, meminfo, the process's status) and for a machine that has none of
it; a small executable script stands for ``nvpmodel`` (a real process, run as the box runs it).
The last tests read this machine's own /proc, so the parsing is checked against the kernel's text,
not only against the text this file writes.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from appliance.status.system_stats import (SYSTEM_KEYS, CpuSample, cpu_percent, parse_nvpmodel, read_cpu,
                                           read_system)

STAT = "cpu  {user} 0 {system} {idle} {iowait} 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2 3\n"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _jetson(root, user=100, system=50, idle=800, iowait=50):
    for n, (kind, milli) in enumerate((("cpu-thermal", "45500"), ("gpu-thermal", "47250"), ("cpu-thermal", "44000"),
                                       ("tj-thermal", "N/A"))):
        _write(root / f"sys/class/thermal/thermal_zone{n}/type", kind + "\n")
        _write(root / f"sys/class/thermal/thermal_zone{n}/temp", milli + "\n")
    _write(root / "sys/devices/platform/bus@0/17000000.gpu/load", "372\n")
    _write(root / "proc/stat", STAT.format(user=user, system=system, idle=idle, iowait=iowait))
    _write(root / "proc/loadavg", "0.52 0.40 0.31 2/345 6789\n")
    _write(root / "proc/meminfo", "MemTotal:        7824512 kB\nMemFree:  100 kB\nMemAvailable:    5242880 kB\n")
    _write(root / "proc/self/status", "Name:\tpython\nVmRSS:\t  204800 kB\n")


def test_a_jetson_tree_gives_every_figure(tmp_path):
    _jetson(tmp_path)
    figures, sample = read_system(None, root=tmp_path, nvpmodel=None)
    assert list(figures) == list(SYSTEM_KEYS)
    assert figures["thermal_c"] == {"cpu-thermal": 45.5, "gpu-thermal": 47.2, "cpu-thermal.1": 44.0, "tj-thermal": None}
    assert figures["gpu_load"] == pytest.approx(0.372)
    assert figures["cpu_percent"] is None  # no earlier sample: no share yet
    assert figures["load_avg"] == [0.52, 0.40, 0.31]
    assert figures["mem_total_mb"] == pytest.approx(7641.1) and figures["mem_available_mb"] == 5120.0
    assert figures["rss_mb"] == 200.0
    assert figures["power_mode"] is None
    assert sample == CpuSample(busy=150, total=1000)


def test_cpu_percent_is_the_busy_share_between_two_samples(tmp_path):
    _jetson(tmp_path)
    _, first = read_system(None, root=tmp_path, nvpmodel=None)
    _write(tmp_path / "proc/stat", STAT.format(user=160, system=90, idle=850, iowait=50))  # +100 busy, +50 idle
    figures, second = read_system(first, root=tmp_path, nvpmodel=None)
    assert figures["cpu_percent"] == pytest.approx(100.0 * 100 / 150, abs=0.05)
    assert cpu_percent(second, second) is None  # no time passed: no share, not 0
    assert cpu_percent(None, second) is None


def test_an_empty_tree_gives_none_everywhere_never_a_sentinel(tmp_path):
    figures, sample = read_system(None, root=tmp_path, nvpmodel=None)
    assert figures == dict.fromkeys(SYSTEM_KEYS)
    assert sample is None


def test_unreadable_or_odd_files_are_none(tmp_path):
    _write(tmp_path / "proc/stat", "intr 1 2 3\n")
    _write(tmp_path / "proc/loadavg", "garbage\n")
    _write(tmp_path / "proc/meminfo", "MemTotal: lots kB\n")
    _write(tmp_path / "sys/devices/gpu.0/load", "busy\n")
    figures, sample = read_system(None, root=tmp_path, nvpmodel=None)
    assert sample is None and figures["load_avg"] is None and figures["mem_total_mb"] is None
    assert figures["gpu_load"] is None


def test_older_jetson_gpu_path_and_a_load_above_full_scale(tmp_path):
    _write(tmp_path / "sys/devices/gpu.0/load", "1000\n")
    assert read_system(None, root=tmp_path, nvpmodel=None)[0]["gpu_load"] == 1.0
    _write(tmp_path / "sys/devices/gpu.0/load", "1200\n")  # never above 1
    assert read_system(None, root=tmp_path, nvpmodel=None)[0]["gpu_load"] == 1.0


@pytest.mark.parametrize("text, mode", [
    ("NV Power Mode: MAXN\n0\n", "MAXN"),
    ("NVPM WARN: fan mode is not set!\nNV Power Mode: 15W\n2\n", "15W"),
    ("NV Power Mode:\n", None),
    ("", None),
    ("error opening /etc/nvpmodel.conf\n", None),
])
def test_nvpmodel_output_is_parsed(text, mode):
    assert parse_nvpmodel(text) == mode


def _script(tmp_path, body):
    path = tmp_path / "bin" / "nvpmodel"
    _write(path, "#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_power_mode_comes_from_running_nvpmodel(tmp_path):
    exe = _script(tmp_path, 'test "$1" = "-q" || exit 3\necho "NV Power Mode: MAXN"\necho 0')
    assert read_system(None, root=tmp_path, nvpmodel=exe)[0]["power_mode"] == "MAXN"


def test_a_failing_or_absent_nvpmodel_is_none(tmp_path):
    exe = _script(tmp_path, 'echo "NV Power Mode: MAXN"\nexit 1')
    assert read_system(None, root=tmp_path, nvpmodel=exe)[0]["power_mode"] is None
    assert read_system(None, root=tmp_path, nvpmodel=str(tmp_path / "no-such-nvpmodel"))[0]["power_mode"] is None


def test_this_machines_proc_reads():
    figures, first = read_system(None)
    assert isinstance(first, CpuSample) and 0 <= first.busy <= first.total
    assert figures["mem_total_mb"] > 0 and 0 <= figures["mem_available_mb"] <= figures["mem_total_mb"]
    assert 0 < figures["rss_mb"] < figures["mem_total_mb"]
    assert len(figures["load_avg"]) == 3 and all(v >= 0 for v in figures["load_avg"])
    if figures["thermal_c"] is not None:  # containers often have no thermal zones
        assert all(v is None or -60 < v < 150 for v in figures["thermal_c"].values())
    sum(i * i for i in range(200_000))  # some CPU time between the samples
    second = read_cpu(Path("/"))
    assert second.total >= first.total
    share = cpu_percent(first, second)
    assert share is None or 0.0 <= share <= 100.0


def test_rss_is_this_process(tmp_path):
    """The real /proc/self/status of this process, as the kernel counts it (within the page rounding)."""
    figures, _ = read_system(None)
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    assert figures["rss_mb"] == pytest.approx(resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, rel=0.2, abs=8)
