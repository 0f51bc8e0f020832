"""`python -m search.dashboard`: the study in optuna-dashboard, served on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import optuna

from search.ports import free_port
from search.study import STUDY_NAME, study_storage


def test_the_dashboard_serves_the_study_on_loopback_and_stops_cleanly(tmp_path):
    study = optuna.create_study(study_name=STUDY_NAME, storage=study_storage(tmp_path),
                                direction="maximize")
    study.enqueue_trial({"lr": 0.01})
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=2)
    port = free_port("127.0.0.1", 18080)
    server = subprocess.Popen([sys.executable, "-m", "search.dashboard", str(tmp_path),
                               "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline, status, body = time.time() + 90, None, ""
        while time.time() < deadline and not (status == 200 and body):
            assert server.poll() is None, server.communicate()[1][-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                    status = page.status
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies",
                                            timeout=10) as api:
                    body = api.read().decode()
            except OSError:
                time.sleep(0.3)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            out, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
    assert status == 200 and STUDY_NAME in body, err[-2000:]
    assert server.returncode == 0, err[-2000:]
    assert f"http://127.0.0.1:{port}" in out


def test_a_folder_without_a_study_is_a_one_line_error(tmp_path, capsys):
    from search.dashboard import main

    assert main([str(tmp_path)]) == 2
    assert "optuna.journal does not exist" in capsys.readouterr().err
