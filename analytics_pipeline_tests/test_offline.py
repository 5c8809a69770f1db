"""The scrubber and its shipped name detector load and run with no network: no connection attempt, no traceback."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import logging, socket
    logging.basicConfig(level=logging.INFO)
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or args)
        raise OSError("network disabled by the test")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from analytics_pipeline.privacy import PiiScrubber

    scrubber = PiiScrubber()
    text = scrubber.scrub("Write to jane.roe@example.org or see www.example.org/jane")
    assert "<EMAIL_ADDRESS>" in text and "jane.roe" not in text, text
    # The shipped detector's weights, with en_core_web_md's vectors from the installed package.
    assert " en_pii_names/" in scrubber.version and " weights/" in scrubber.version, scrubber.version
    assert scrubber.scrub("TEODORA VANCURA\\nData Engineer") == "<PERSON>\\nData Engineer"
    print("connection attempts:", len(attempts))
    """
)


def test_scrubber_makes_no_network_attempt_and_logs_no_traceback(tmp_path):
    # An empty tldextract cache, as on a fresh machine: a cached fallback would hide the fetch.
    env = {**os.environ, "TLDEXTRACT_CACHE": str(tmp_path / "tldextract-cache")}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "connection attempts: 0" in done.stdout
    assert "Traceback" not in done.stderr
