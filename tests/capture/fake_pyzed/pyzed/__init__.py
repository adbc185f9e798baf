"""A stand-in for the ZED SDK's Python package, for tests only (tests/capture/fake_pyzed/pyzed/sl.py)."""
