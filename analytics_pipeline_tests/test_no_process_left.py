"""The suite-wide guard (conftest.no_process_left_behind) finds what a test leaves behind, orphans included."""

import os
import subprocess
import sys

import psutil

from analytics_pipeline_tests.conftest import SESSION_MARK_ENV, suite_processes

# A parent that starts a sleeper in a session of its own and exits at once: the sleeper is reparented
# and leaves pytest's process group, as a code server whose webserver died would be.
ORPHAN_MAKER = """
import subprocess, sys
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(sleeper.pid)
"""


def test_an_orphan_in_its_own_session_is_still_found_by_the_session_mark():
    made = subprocess.run([sys.executable, "-c", ORPHAN_MAKER], capture_output=True, text=True, timeout=60)
    orphan = psutil.Process(int(made.stdout))
    try:
        assert orphan.pid not in {child.pid for child in psutil.Process().children(recursive=True)}
        assert os.getpgid(orphan.pid) != os.getpgid(0)
        assert orphan.pid in {process.pid for process in suite_processes(os.environ[SESSION_MARK_ENV])}
    finally:
        orphan.kill()
        orphan.wait(10)
