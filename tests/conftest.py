import os
import sys
from pathlib import Path

import pytest

# Test helpers (markers.py) live beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

# `.ci/run` sets this when it runs `pytest -m unprivileged` as a non-root user: there a test
# that cannot run must fail, never skip quietly.
UNPRIVILEGED_RUN = os.environ.get("LLA_UNPRIVILEGED_RUN") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.unprivileged`: the test needs file permissions to bite (chmod 000 does not
    stop root). As root it skips, unless this is CI's unprivileged run, where it fails."""
    if item.get_closest_marker("unprivileged") is None or os.geteuid() != 0:
        return
    if UNPRIVILEGED_RUN:
        pytest.fail("LLA_UNPRIVILEGED_RUN=1 but the tests run as root: the permission tests "
                    "would prove nothing", pytrace=False)
    pytest.skip("needs a non-root user (.ci/run runs `pytest -m unprivileged` as one)")
