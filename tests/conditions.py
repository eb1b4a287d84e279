"""Waiting on a condition (never on a fixed time): what tests use on a loaded machine."""

import time


def wait_until(condition, timeout_s: float = 120.0) -> bool:
    """Polls `condition` until it holds (True) or `timeout_s` has passed (its last value)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())
