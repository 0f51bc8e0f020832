"""`python -m search.dashboard results/<experiment>`: the search's Optuna study in
optuna-dashboard (history, parallel coordinates, slices, importances, notes), on 127.0.0.1.

It reads `optuna.journal`, which the searcher appends to as trials report, so it works
during a search as well as after one. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from .ports import free_port
from .study import STUDY_FILE, study_storage

DEFAULT_PORT = 8080  # optuna-dashboard's own default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.dashboard",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, help=f"default: the first free from {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    if not (args.experiment_dir / STUDY_FILE).exists():
        print(f"error: {args.experiment_dir / STUDY_FILE} does not exist; give an experiment "
              "folder such as results/cnn1d (its study appears with the first trial)",
              file=sys.stderr)
        return 2
    from optuna_dashboard import wsgi

    port = args.port or free_port(args.host, DEFAULT_PORT)
    server = make_server(args.host, port, wsgi(study_storage(args.experiment_dir)),
                         handler_class=QuietHandler)

    def stop(signum, frame) -> None:
        # A KeyboardInterrupt raised inside a request would be swallowed by wsgiref's
        # handler, leaving the server up: shut it down from outside the request instead.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Optuna dashboard: http://{args.host}:{port}  (Ctrl-C stops it)", flush=True)
    with server:
        server.serve_forever()
    return 0


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # no line per request
        pass


if __name__ == "__main__":
    sys.exit(main())
