"""`agma doctor`'s checks of the machine itself: camera (USB), cuda_kernels (this GPU), service, clock.

Why: these read what a subprocess cannot be pointed at (the USB bus in sysfs, the GPU, systemd,
the kernel's clock state), so they are run in-process through doctor's own check functions with
doctor.Machine pointing at a temporary tree, and the decisions that read the machine's answers
(``service_check``, ``clock_check``) are fed the answers a box gives. Each fails for its own reason
and says its fix, and passes where the machine is right:

- camera: zed/uvc source, no device of vendor 2b03 in the sysfs tree -> fails, "plug the ZED";
  the tree with a ZED 2's two devices (2b03:f780 video, 2b03:f781 sensors) -> passes naming them;
- cuda_kernels: the decoder's cubin really built by `agma engine kernels --sm 87` (NVRTC, CUDA
  12.2 from PyPI) into $AGMA_CACHE_DIR passes for an sm 8.7 GPU and fails for another (sm 7.2),
  whose fix is `agma engine kernels`; doctor itself compiles nothing (the cache is unchanged);
- service: no /run/systemd/system -> fails, "install the unit"; `systemctl show`'s states of an
  uninstalled, a disabled, a failed and a running unit -> one decision each;
- clock: the kernel's STA_UNSYNC, a clock before 2025, a database newer than the clock -> each
  fails with the NTP fix; a synchronised clock passes. The real adjtimex probe answers here.
"""
from __future__ import annotations

import pytest

from appliance import config as config_mod
from appliance.commands import doctor
from appliance.commands.doctor import Machine
from tests.cli.doctor_setup import DoctorBox, assert_failed
from tests.helpers import agma

NOW_NS = 1_780_000_000 * 10**9  # 2026-05-28


@pytest.fixture
def box(tmp_path, monkeypatch):
    b = DoctorBox(tmp_path)
    for k, v in b.env().items():
        monkeypatch.setenv(k, v)
    return b


def _cfg(box):
    return config_mod.load(str(box.config))


def _zed_device(root, name, product, bus, dev):
    d = root / name
    d.mkdir(parents=True)
    for f, v in (("idVendor", "2b03"), ("idProduct", product), ("busnum", str(bus)), ("devnum", str(dev))):
        (d / f).write_text(v + "\n")


def _check(c: doctor.Check) -> dict:
    return c.as_dict()


@pytest.mark.parametrize("source", ["zed", "uvc"])
def test_camera_fails_without_a_2b03_device_and_passes_with_one(box, tmp_path, source):
    sysfs = tmp_path / "sys" / "bus" / "usb" / "devices"
    other = sysfs / "1-1"  # a keyboard
    other.mkdir(parents=True)
    for f, v in (("idVendor", "046d"), ("idProduct", "c31c"), ("busnum", "1"), ("devnum", "2")):
        (other / f).write_text(v + "\n")
    box.set(capture={"source": source})
    missing = doctor.check_camera(_cfg(box), Machine(sysfs_usb=sysfs))
    assert_failed(_check(missing), detail=f"no USB device of vendor 2b03 (Stereolabs) in {sysfs}",
                  fix="plug the ZED into a USB 3 port")
    _zed_device(sysfs, "2-1", "f780", 2, 3)
    _zed_device(sysfs, "2-1.1", "f781", 2, 4)
    (sysfs / "2-1:1.0").mkdir()  # an interface: no idVendor
    found = doctor.check_camera(_cfg(box), Machine(sysfs_usb=sysfs))
    assert found == doctor.Check("camera", True, "ZED on USB: 2-1 (2b03:f780), 2-1.1 (2b03:f781)")


def test_cuda_kernels_pass_for_the_gpu_they_were_built_for_only(box):
    box.set(pose={"model": f"trt:{box.root / 'pose.engine'}"})
    built = agma("engine", "kernels", "--sm", "87", "--toolchain", "nvrtc", "--json", env=box.env())
    assert built.returncode == 0, built.stderr
    cubins = sorted((box.cache / "cuda").iterdir())
    assert len(cubins) == 1 and cubins[0].name.startswith("decode_heatmaps-cuda12.2-sm_87-")
    before = {p: p.stat().st_mtime_ns for p in box.cache.rglob("*")}
    orin = doctor.check_cuda_kernels(_cfg(box), Machine(gpu_sm=87))
    assert orin == doctor.Check("cuda_kernels", True, f"{cubins[0].name} (sm_87) in {box.cache / 'cuda'}")
    xavier = doctor.check_cuda_kernels(_cfg(box), Machine(gpu_sm=72))
    assert_failed(_check(xavier), detail=f"no CUDA decoder for sm_72 from these sources in {box.cache / 'cuda'} "
                                         f"(it holds {cubins[0].name}: another GPU or older sources)",
                  fix="agma engine kernels")
    assert {p: p.stat().st_mtime_ns for p in box.cache.rglob("*")} == before  # nothing compiled, nothing written


def test_cuda_kernels_are_not_used_without_a_tensorrt_engine(box):
    c = doctor.check_cuda_kernels(_cfg(box), Machine(gpu_sm=87))
    assert c.ok and c.detail.startswith("not used: pose.model is simulated")


def test_service_fails_where_systemd_does_not_run_the_machine(box, tmp_path):
    c = doctor.check_service(None, Machine(systemd_dir=tmp_path / "run" / "systemd" / "system"))
    assert_failed(_check(c), detail=f"systemd does not run this machine ({tmp_path / 'run' / 'systemd' / 'system'} "
                                    "is missing)", fix="sudo scripts/install.sh (docs/install.md) installs and enables agma.service")


@pytest.mark.parametrize("props, ok, detail, fix", [
    ({"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""}, False,
     "agma.service is not installed (LoadState not-found)", "sudo scripts/install.sh"),
    ({"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "disabled"}, False,
     "agma.service is disabled (inactive (dead)): it would not start at boot", "sudo systemctl enable agma"),
    ({"LoadState": "loaded", "ActiveState": "failed", "SubState": "failed", "UnitFileState": "enabled"}, False,
     "agma.service failed: failed (failed), enabled", "journalctl -u agma -b"),
    ({"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled"}, True,
     "agma.service enabled, active (running)", None),
    ({"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "enabled"}, True,
     "agma.service enabled, inactive (dead): it starts at boot, or now with sudo systemctl start agma", None),
], ids=["not-installed", "disabled", "failed", "running", "installed-not-started"])
def test_service_decides_on_systemctl_shows_states(props, ok, detail, fix):
    c = doctor.service_check(props)
    assert (c.ok, c.detail) == (ok, detail)
    assert (fix is None and c.fix == "") or (fix is not None and fix in c.fix), c


NTP_FIX = "sudo timedatectl set-ntp true"


def test_clock_fails_unsynchronised_or_unknown_and_passes_synchronised():
    c = doctor.clock_check(NOW_NS, False, "the kernel's status, adjtimex", None)
    assert_failed(_check(c), detail="2026-05-28T20:26:40Z, not synchronised (the kernel's status, adjtimex)", fix=NTP_FIX)
    c = doctor.clock_check(NOW_NS, None, "adjtimex failed (Operation not permitted)", None)
    assert_failed(_check(c), detail="cannot tell whether the clock is synchronised: adjtimex failed", fix=NTP_FIX)
    c = doctor.clock_check(NOW_NS, True, "the kernel's status, adjtimex", NOW_NS - 10**9)
    assert c == doctor.Check("clock", True, "2026-05-28T20:26:40Z, synchronised (the kernel's status, adjtimex)")


def test_clock_fails_before_2025_or_before_what_the_database_holds_even_when_synchronised():
    c = doctor.clock_check(86_400 * 10**9, True, "adjtimex", None)  # a box without an RTC battery: 1970
    assert_failed(_check(c), detail="the clock says 1970-01-02T00:00:00Z: before 2025-01-01T00:00:00Z, so wrong", fix=NTP_FIX)
    c = doctor.clock_check(NOW_NS, True, "adjtimex", NOW_NS + 36 * 3_600 * 10**9)
    assert_failed(_check(c), detail="but the database holds 2026-05-30T08:26:40Z (36.0 h later)", fix=NTP_FIX)


def test_the_kernels_clock_state_is_read_here():
    """adjtimex(2) with no modes only reads: it answers on Linux without privileges."""
    synchronised, how = doctor.kernel_clock_synchronised()
    assert synchronised in (True, False) and how == "the kernel's status, adjtimex"
    c = doctor.check_clock(None, Machine())  # needs no configuration
    if c.ok:  # the floor and the database can only add reasons to fail
        assert synchronised is True
    else:
        assert NTP_FIX in c.fix
