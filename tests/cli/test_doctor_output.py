"""`agma doctor`'s output: the twelve named checks in order, the JSON document, the exit code, an invalid config.

Why: the technician (and scripts/install.sh, whose exit status is doctor's) reads one line per
check, or the `--json` document `{"checks": [{"name", "ok", "detail", "fix"}, ...]}`. A check that
does not apply (a simulated model needs no engine) passes and says why it does not apply, never
disappears. Exit 0 only when every check passed, else 1; and an invalid configuration is the
`config` check failing with its key and fix, exit 1, not the exit 78 of every other command: the
checks that need a configuration then say they were not run, and the others (state_dir, clock,
service) still run.
"""
from __future__ import annotations

from appliance.commands.doctor import NAMES
from tests.cli.doctor_setup import MACHINE_CHECKS, DoctorBox, assert_failed
from tests.helpers import agma

SPEC_ORDER = ("config", "state_dir", "disk", "database", "camera", "calibration", "engine", "cuda_kernels", "clock",
              "broker", "gpio", "service")


def test_the_document_names_every_check_in_order_and_says_what_does_not_apply(tmp_path):
    box = DoctorBox(tmp_path)
    proc, checks = box.doctor()
    assert tuple(checks) == SPEC_ORDER == NAMES
    for name, c in checks.items():
        if name not in MACHINE_CHECKS:
            assert c["ok"] is True and c["fix"] is None, c
    assert checks["config"]["detail"] == f"{box.config} is valid"
    assert checks["state_dir"]["detail"] == f"{box.state} ($AGMA_STATE_DIR) is writable by {_user()}"
    assert checks["database"]["detail"] == f"no database yet at {box.db}: the first session creates it"
    not_used = {"camera": "not used: capture.source is synthetic", "calibration": "not used: capture.source is synthetic",
                "engine": "not used: pose.model is simulated (no TensorRT engine)",
                "broker": "not used: mqtt.enabled is false", "gpio": "not used: button.enabled is false"}
    for name, detail in not_used.items():
        assert checks[name]["detail"] == detail
    assert checks["cuda_kernels"]["detail"].startswith("not used: pose.model is simulated")
    for name in MACHINE_CHECKS:  # this machine's: either way, a failing one says its fix
        assert checks[name]["ok"] or checks[name]["fix"], checks[name]
    assert proc.returncode == (0 if all(c["ok"] for c in checks.values()) else 1)


def test_the_text_is_one_line_per_check_with_the_fix_on_failing_ones(tmp_path):
    box = DoctorBox(tmp_path).set(store={"min_free_mb": 1e12})
    text = agma("--config", str(box.config), "doctor", env=box.env())
    _, checks = box.doctor()
    lines = text.stdout.splitlines()
    assert text.returncode == 1 and text.stderr == ""
    assert len(lines) == len(NAMES) + 1
    for line, name in zip(lines, NAMES):
        c = checks[name]
        status, shown = line.split(None, 1)
        assert status == ("ok" if c["ok"] else "FAIL") and shown.split(None, 1)[0] == name, line
        if name not in MACHINE_CHECKS | {"disk"}:  # as the JSON has them (the clock and the free space move on)
            assert line.endswith(c["detail"] if c["ok"] else f"{c['detail']}  -> fix: {c['fix']}"), line
        elif not c["ok"]:
            assert line.endswith(f"  -> fix: {c['fix']}"), line
    bad = [n for n in NAMES if not checks[n]["ok"]]
    assert "disk" in bad
    assert lines[-1] == f"{len(NAMES) - len(bad)} of {len(NAMES)} checks passed; failed: {', '.join(bad)}"


def test_an_invalid_config_is_the_config_check_failing_not_exit_78(tmp_path):
    box = DoctorBox(tmp_path)
    box.config.write_text('[store]\ncommit_interval = 1.0\n', encoding="utf-8")  # the key is commit_interval_s
    proc, checks = box.doctor()
    assert proc.returncode == 1 and proc.stderr == ""
    assert_failed(checks["config"], detail=f"{box.config}: store.commit_interval: unknown key",
                  fix=f"correct store.commit_interval in {box.config}")
    for name in NAMES:
        if name in ("config", "state_dir", "clock", "service"):
            continue
        assert_failed(checks[name], detail="not checked: the configuration is not valid (config)",
                      fix="fix the configuration first")
    assert checks["state_dir"]["ok"] is True  # run anyway: it needs no configuration


def test_a_config_file_that_is_not_toml_is_the_config_check_failing(tmp_path):
    box = DoctorBox(tmp_path)
    box.config.write_text("[store\n", encoding="utf-8")
    proc, checks = box.doctor()
    assert proc.returncode == 1
    assert_failed(checks["config"], detail=f"{box.config}: not valid TOML", fix=f"correct {box.config}")


def _user() -> str:
    import os
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name
