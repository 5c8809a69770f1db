"""How a Celery step ends, without a cluster: the worker's own deadline and the settings both sides share."""

import os
import subprocess
import sys
import threading
import time

import pytest

from analytics_pipeline.celery_steps import StepTimeout, step_deadline
from analytics_pipeline.executors import STEP_TIMEOUT_ENV, ExecutorChoiceError, celery_settings, step_timeout_seconds


def test_a_step_past_its_deadline_is_interrupted_in_the_worker():
    began = time.monotonic()
    with pytest.raises(StepTimeout, match=rf"step shard_000 did not end within 0 s \({STEP_TIMEOUT_ENV}\)"):
        with step_deadline(0.2, ["shard_000"]):
            time.sleep(30)
    assert time.monotonic() - began < 30
    time.sleep(0.3)  # the timer is gone with the block: nothing fires later


def test_outside_the_main_thread_the_deadline_is_the_executors_alone():
    outcome = []

    def step() -> None:
        with step_deadline(0.1, ["shard_000"]):
            time.sleep(0.3)
        outcome.append("ended")

    thread = threading.Thread(target=step)
    thread.start()
    thread.join()
    assert outcome == ["ended"]


def test_messages_are_acknowledged_late_and_redelivered_only_after_the_step_timeout(monkeypatch):
    monkeypatch.setenv(STEP_TIMEOUT_ENV, "600")
    settings = celery_settings()
    assert settings["task_acks_late"] and settings["worker_prefetch_multiplier"] == 1
    assert settings["broker_transport_options"]["visibility_timeout"] > step_timeout_seconds() == 600
    assert settings["accept_content"] == settings["result_accept_content"] == ["json"]  # never pickle
    monkeypatch.setenv(STEP_TIMEOUT_ENV, "ten minutes")
    with pytest.raises(ExecutorChoiceError, match=STEP_TIMEOUT_ENV):
        celery_settings()


def test_a_worker_without_dagster_home_does_not_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["ANALYTICS_CELERY_BROKER"] = f"redis+socket://{tmp_path}/no-broker.sock?virtual_host=0"
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "analytics_pipeline.celery_worker", "worker", "--pool", "solo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode != 0
    assert "DAGSTER_HOME is not set: a worker runs the steps of the instance it names" in worker.stderr
