"""The ZED SDK's return codes map to what the supervision acts on: absent, lost (grab again), or an error in the SDK's words.

Why: CAMERA_NOT_DETECTED is a camera that is not there (retried with backoff, no restart
counted); CAMERA_REBOOTING, LOW_USB_BANDWIDTH and CORRUPTED_FRAME are a camera that is there but
gives no frame now (the supervisor judges the gap); anything else must reach the event with the
SDK's own text, not a guess. The mapping is pure (appliance/capture/zed.py ``classify``), so it is
tested here without pyzed, over every ERROR_CODE member the three SDK versions have; and the
names it tests for are checked to be real members in all three (a misspelt name would silently
turn a lost camera into an error).
"""
from __future__ import annotations

import enum
from pathlib import Path

import pytest

from appliance.capture import zed

VENDOR = Path(__file__).resolve().parents[3] / "shared" / "vendor-api"
VERSIONS = ("pyzed-4.1.txt", "pyzed-4.2.txt", "pyzed-5.4.0.txt")


def _error_codes(version: str) -> set[str]:
    names = (VENDOR / version).read_text(encoding="utf-8").split()
    return {n.split(".")[2] for n in names if n.startswith("sl.ERROR_CODE.")} - {"LAST"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_code_of_every_version_has_one_meaning(version):
    codes = _error_codes(version)
    assert zed.ABSENT_CODES | zed.LOST_CODES | {"SUCCESS"} <= codes, "a mapped name is not a code of this SDK"
    kinds = {code: zed.classify(code, code.replace("_", " ")).kind for code in codes}
    assert {c for c, k in kinds.items() if k == "absent"} == {"CAMERA_NOT_DETECTED"}
    assert {c for c, k in kinds.items() if k == "lost"} == {"CAMERA_REBOOTING", "LOW_USB_BANDWIDTH", "CORRUPTED_FRAME"}
    assert {c for c, k in kinds.items() if k == "ok"} == {"SUCCESS"}
    assert kinds["CAMERA_FAILED_TO_SETUP"] == kinds["FAILURE"] == kinds["CALIBRATION_FILE_NOT_AVAILABLE"] == "error"


def test_an_error_carries_the_sdks_text():
    s = zed.classify("CAMERA_DETECTION_ISSUE", "CAMERA DETECTION ISSUE")
    assert (s.kind, s.code, s.text) == ("error", "CAMERA_DETECTION_ISSUE", "CAMERA DETECTION ISSUE")
    assert zed.classify("SOMETHING_NEW_IN_SDK_6", "").text == "SOMETHING_NEW_IN_SDK_6"  # no text: the name
    assert zed.classify("SOMETHING_NEW_IN_SDK_6").kind == "error"


class _Code(enum.Enum):
    """Shaped like pyzed's ERROR_CODE: an enum.Enum whose str() is the SDK's text (sl.pyx, all three tags)."""

    SUCCESS = 0
    CAMERA_REBOOTING = -1

    def __str__(self) -> str:
        return self.name.replace("_", " ").title()


def test_code_name_reads_the_enum_member_not_its_text():
    assert zed.code_name(_Code.CAMERA_REBOOTING) == "CAMERA_REBOOTING"
    assert zed.classify(zed.code_name(_Code.CAMERA_REBOOTING), str(_Code.CAMERA_REBOOTING)).text == "Camera Rebooting"
    assert zed.code_name("FAILURE") == "FAILURE"  # not an enum: its text
