"""The machine's own figures for the MQTT ``stats`` topic: temperatures, power mode, GPU load, CPU, memory.

``read_system(prev, root="/")`` -> (figures, sample). Everything is read from files under ``root``
(tests hand it a fake sysfs/procfs tree) and, for the power mode, from the ``nvpmodel`` command when
it exists. The figures (a missing one is None, never a sentinel such as -1 or 0):

- ``thermal_c``: {zone type: °C} from ``sys/class/thermal/thermal_zone*/{type,temp}`` (temp in
  millidegrees); a zone whose temp cannot be read is None; two zones of one type are ``type``,
  ``type.1``, ...; None when the machine has no thermal zone at all;
- ``power_mode``: the Jetson power mode's name (``NV Power Mode: MAXN`` -> ``"MAXN"``) from
  ``nvpmodel -q`` (2 s timeout); None where nvpmodel is absent, fails or says something else;
- ``gpu_load``: 0..1 from the Jetson GPU's ``load`` file (per-mille; GPU_LOAD_FILES); None elsewhere;
- ``cpu_percent``: busy share of all CPUs since ``prev`` in percent (0..100, from ``proc/stat``);
  None on the first call (``prev`` None) or when no time passed;
- ``load_avg``: [1, 5, 15 min] from ``proc/loadavg`` (what ``os.getloadavg`` reads on Linux);
- ``mem_total_mb`` / ``mem_available_mb``: MiB from ``proc/meminfo`` (MemTotal, MemAvailable);
- ``rss_mb``: resident memory of this process in MiB (``proc/self/status`` VmRSS).

The returned sample (None when ``proc/stat`` cannot be read) is the next call's ``prev``.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The keys of read_system's figures, in order (the stats schema lists the same).
SYSTEM_KEYS = ("thermal_c", "power_mode", "gpu_load", "cpu_percent", "load_avg", "mem_total_mb", "mem_available_mb",
               "rss_mb")
#: Where a Jetson's GPU load (per-mille) may be, relative to root: exact paths first, then globs.
GPU_LOAD_FILES = ("sys/devices/platform/gpu.0/load", "sys/devices/gpu.0/load",
                  "sys/devices/platform/bus@0/17000000.gpu/load", "sys/devices/platform/*/*.gpu/load",
                  "sys/devices/platform/*.gpu/load")
#: How long ``nvpmodel -q`` may take, seconds.
NVPMODEL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class CpuSample:
    """The all-CPU line of /proc/stat: busy and total time, in clock ticks since boot."""

    busy: int
    total: int


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def read_thermal(root: Path) -> dict[str, float | None] | None:
    """{zone type: °C (0.1 °C)} of every thermal zone, ordered by zone number; None without any zone."""
    zones = []
    for d in (root / "sys/class/thermal").glob("thermal_zone*"):
        suffix = d.name[len("thermal_zone"):]
        zones.append((int(suffix) if suffix.isdigit() else 1 << 30, d.name, d))
    if not zones:
        return None
    out: dict[str, float | None] = {}
    for _, name, d in sorted(zones):
        kind = (_read(d / "type") or "").strip() or name
        key, n = kind, 1
        while key in out:
            key, n = f"{kind}.{n}", n + 1
        raw = (_read(d / "temp") or "").strip()
        try:
            out[key] = round(int(raw) / 1000.0, 1)
        except ValueError:
            out[key] = None
    return out


def parse_nvpmodel(text: str) -> str | None:
    """The mode's name in ``nvpmodel -q``'s output (a line ``NV Power Mode: <name>``); None without one."""
    for line in text.splitlines():
        head, sep, name = line.partition(":")
        if sep and head.strip().lower() == "nv power mode" and name.strip():
            return name.strip()
    return None


def read_power_mode(nvpmodel: str | None = "nvpmodel") -> str | None:
    """The power mode from ``<nvpmodel> -q``; None where the command is absent, fails or times out."""
    exe = shutil.which(nvpmodel) if nvpmodel else None
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "-q"], capture_output=True, text=True, errors="replace",
                              timeout=NVPMODEL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return parse_nvpmodel(proc.stdout)


def read_gpu_load(root: Path) -> float | None:
    """The GPU's load, 0..1 (the file holds per-mille); None when no load file is readable."""
    for pattern in GPU_LOAD_FILES:
        for path in sorted(glob.glob(str(root / pattern))):
            raw = (_read(Path(path)) or "").strip()
            try:
                value = int(raw)
            except ValueError:
                continue
            return round(min(max(value / 1000.0, 0.0), 1.0), 3)
    return None


def read_cpu(root: Path) -> CpuSample | None:
    """The all-CPU line of proc/stat; None when it cannot be read."""
    text = _read(root / "proc/stat")
    if not text:
        return None
    fields = text.splitlines()[0].split()
    if not fields or fields[0] != "cpu":
        return None
    try:
        # user nice system idle iowait irq softirq steal (guest, guest_nice are inside user, nice)
        ticks = [int(v) for v in fields[1:9]]
    except ValueError:
        return None
    if len(ticks) < 4:
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    total = sum(ticks)
    return CpuSample(busy=total - idle, total=total)


def cpu_percent(prev: CpuSample | None, now: CpuSample | None) -> float | None:
    """Busy share of the CPUs between two samples, percent; None without both or when no time passed."""
    if prev is None or now is None:
        return None
    dt = now.total - prev.total
    if dt <= 0:
        return None
    return round(min(max(100.0 * (now.busy - prev.busy) / dt, 0.0), 100.0), 1)


def read_loadavg(root: Path) -> list[float] | None:
    text = _read(root / "proc/loadavg")
    try:
        values = [float(v) for v in (text or "").split()[:3]]
    except ValueError:
        return None
    return values if len(values) == 3 else None


def _kib_fields(text: str | None, names: tuple[str, ...]) -> dict[str, float | None]:
    """'Name:   1234 kB' lines -> {name: MiB (0.1)}; None for a name not there."""
    found: dict[str, float | None] = dict.fromkeys(names)
    for line in (text or "").splitlines():
        head, sep, rest = line.partition(":")
        if sep and head in found:
            parts = rest.split()
            try:
                found[head] = round(int(parts[0]) / 1024.0, 1)
            except (ValueError, IndexError):
                pass
    return found


def read_system(prev: CpuSample | None = None, root: str | os.PathLike = "/",
                nvpmodel: str | None = "nvpmodel") -> tuple[dict[str, Any], CpuSample | None]:
    """The machine's figures (SYSTEM_KEYS; see the module's doc) and the CPU sample for the next call.

    root: where sys/ and proc/ are (a test's fake tree); nvpmodel: the command asked for the power
    mode (None: not asked)."""
    base = Path(root)
    sample = read_cpu(base)
    mem = _kib_fields(_read(base / "proc/meminfo"), ("MemTotal", "MemAvailable"))
    rss = _kib_fields(_read(base / "proc/self/status"), ("VmRSS",))
    figures = {
        "thermal_c": read_thermal(base),
        "power_mode": read_power_mode(nvpmodel),
        "gpu_load": read_gpu_load(base),
        "cpu_percent": cpu_percent(prev, sample),
        "load_avg": read_loadavg(base),
        "mem_total_mb": mem["MemTotal"],
        "mem_available_mb": mem["MemAvailable"],
        "rss_mb": rss["VmRSS"],
    }
    return figures, sample
