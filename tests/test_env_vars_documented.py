"""Every AGMA_* environment variable the code reads is documented in docs/config.md.

The configuration keys have their environment form (AGMA_<SECTION>__<KEY>); a few variables are
read outside the loader, by steps that run before or without a configuration (the CUDA build,
benchmarks, the calibration store): config.OTHER_ENV_VARS lists those with their meaning, and
the generated docs/config.md renders the list. Six such variables were once read and nowhere
documented. This test finds every string in appliance/ that is an AGMA_* name (the argument of
``os.environ.get`` or a module constant naming it) and checks each is a key's or listed, and
that nothing listed is a leftover that no code reads. The variables systemd sets for a service
(STATE_DIRECTORY, NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, JOURNAL_STREAM) are held to the same rule.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from appliance import config

PACKAGE = Path(config.__file__).resolve().parent
#: Ours (AGMA_*), and the ones systemd sets for a service that the daemon reads (status/systemd_notify.py, config.py).
NAME = re.compile(r"AGMA_[A-Z0-9_]+|STATE_DIRECTORY|NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID|JOURNAL_STREAM")


def _names_in_code() -> dict[str, list[str]]:
    """AGMA_* (or systemd's) name -> files of appliance/ holding it as a whole string constant."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
                found.setdefault(node.value, []).append(str(path.relative_to(PACKAGE.parent)))
    return found


def test_every_variable_read_is_a_key_or_listed():
    keys = {config.env_var(k.path) for k in config.KEYS}
    listed = {name for name, _ in config.OTHER_ENV_VARS}
    assert not keys & listed
    code = _names_in_code()
    undocumented = {name: files for name, files in code.items() if name not in keys | listed}
    assert undocumented == {}
    # the ones this test was written for: read outside config.py, so it must see them
    assert {"AGMA_STATE_DIR", "AGMA_CACHE_DIR", "AGMA_NVRTC", "AGMA_PTXAS", "AGMA_NVCC", "AGMA_BENCH_ONNX"} <= set(code)


def test_nothing_listed_is_a_leftover():
    code = _names_in_code()
    for name, meaning in config.OTHER_ENV_VARS:
        assert name in code, f"{name} is listed but no code in appliance/ reads it"
        assert meaning.strip()


def test_the_generated_docs_list_them():
    docs = config.docs_markdown()
    for name, meaning in config.OTHER_ENV_VARS:
        assert f"| `{name}` | {meaning} |" in docs
