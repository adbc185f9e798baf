"""A RuntimeWarning fails the test run, in the test process and in every process a test starts.

NaN is a normal state of the data path, computed under ``np.errstate`` where it is expected;
so a NumPy ``RuntimeWarning`` (``invalid value encountered in ...``) is a defect that a user
would see on stderr. pyproject's ``filterwarnings`` turns it into an error here; the processes
tests start (``agma`` subprocesses, scripts) would otherwise print it where no test looks, so
tests/conftest.py hands them the same rule through PYTHONWARNINGS.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers import clean_env, run


def test_in_this_process():
    with pytest.raises(RuntimeWarning, match="invalid value"):
        np.log(np.float64(-1.0))


def test_in_a_process_a_test_starts():
    """With the environment every `agma` subprocess of the tests gets (helpers.clean_env)."""
    proc = run([sys.executable, "-c", "import numpy as np; np.log(np.float64(-1.0)); print('went on')"],
               env=clean_env())
    assert proc.returncode != 0 and "went on" not in proc.stdout
    assert "RuntimeWarning: invalid value encountered in log" in proc.stderr

