"""`python -m search.run spaces/cnn1d.yaml`: prepare the data, search, write the leaderboard."""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import logging
import os
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path

from contracts.experiment import EXPERIMENT_FILE, ExperimentInfo, current_environment, read_info
from contracts.trial import Status
from data_prep.config import ConfigError
from data_prep.summary import describe as describe_data
from embedding.weights import ensure as ensure_weights

# Tune forces a state snapshot whenever a kept checkpoint is replaced, and warns about it
# every few seconds; the snapshots are cheap at this scale.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")

from . import compat, leaderboard
from .fidelity import FIDELITY_KEY, CostModel, Fidelity
from .fidelity import plan as plan_fidelity
from .ports import free_port
from .spec import Spec, check_dataset, load_spec, weight_files
from .storage import ExperimentStore
from .strategies import searcher_name
from .study import STUDY_FILE, close_unfinished_trials, configs_not_started, warm_start

# A user's mistake: printed as one line, exit 2, no traceback.
INPUT_ERRORS = (ConfigError, FileNotFoundError)  # every stage's user errors are ConfigErrors
DASHBOARD_PORT = 8265  # Ray's own default; the next free one when it is taken


class SearchIncomplete(Exception):
    """The search ended before its trials did (interrupted, or every trial failed)."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m search.run", description="Run a hyperparameter search from a space YAML."
    )
    parser.add_argument("space", type=Path, help="a space YAML, e.g. spaces/cnn1d.yaml")
    parser.add_argument("--data", help="a folder of class folders to search on instead")
    parser.add_argument("--name", help="experiment name (default: the YAML's name or stem)")
    parser.add_argument("--num-samples", type=positive_int, help="number of trials")
    parser.add_argument("--max-epochs", type=positive_int, help="epochs per trial at most")
    parser.add_argument("--seed", type=int, default=None, help="searcher seed")
    parser.add_argument("--max-concurrent", type=positive_int,
                        help="trials at once (default: CPUs)")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="where experiments and prepared data go (default: results/)")
    parser.add_argument("--storage",
                        help="where experiments go: a shared folder or a URI such as "
                             "s3://bucket/path (default: --results)")
    parser.add_argument("--cpus-per-trial", type=float, help="CPUs each trial holds")
    parser.add_argument("--gpus-per-trial", type=float,
                        help="GPU share each trial holds: 0.25 puts four trials on one GPU")
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                        help="join an existing Ray cluster (default: start a local one)")
    parser.add_argument("--dashboard-host", default="127.0.0.1",
                        help="address the Ray dashboard listens on (it accepts job "
                             "submissions: widen beyond loopback only on a trusted network)")
    parser.add_argument("--dashboard-port", type=int, default=None,
                        help=f"the Ray dashboard's port (default: the first free one from "
                             f"{DASHBOARD_PORT})")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh; an earlier run of the same name is moved aside")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one key of the space file, e.g. "
                             "--set fixed.pretrained=~/weights/Cnn6_mAP=0.343.pth (repeatable)")
    parser.add_argument("--warm-start", type=Path, metavar="EXPERIMENT",
                        help="tell the searcher the finished trials of an earlier experiment "
                             "(e.g. results/cnn1d) whose configs fit this space")
    parser.add_argument("--warm-start-top", type=int, default=0, metavar="K",
                        help="with --warm-start: run its best K configs again first")
    parser.add_argument("--verbose", action="store_true",
                        help="Tune's per-trial tables and every Ray log line")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved space, resources and trials at once; exit")
    return parser.parse_args(argv)


def apply_overrides(spec: Spec, args: argparse.Namespace) -> Spec:
    if args.data:
        source = Path(args.data).expanduser().resolve()
        if not source.exists():
            raise ConfigError(f"--data {args.data}: no such file or folder; give a folder of "
                              "class folders or a CSV of paths and labels")
        spec.dataset = spec.dataset.replace(source=str(source), layout="auto")
        check_dataset(spec)
    if args.warm_start and not (args.warm_start / STUDY_FILE).exists():
        raise ConfigError(f"--warm-start {args.warm_start}: no {STUDY_FILE} there; give the "
                          "folder of an earlier search, such as results/cnn1d")
    spec.name = args.name or spec.name
    for key in ("num_samples", "max_epochs", "max_concurrent"):
        if getattr(args, key) is not None:
            setattr(spec, key, getattr(args, key))
    if args.cpus_per_trial is not None:
        spec.resources["cpu"] = args.cpus_per_trial
    if args.gpus_per_trial is not None:
        spec.resources["gpu"] = args.gpus_per_trial
    return spec


def describe(spec: Spec, concurrent: int) -> str:
    lines = [f"experiment: {spec.name}", f"model: {spec.model}",
             f"metric: {spec.metric} ({spec.mode})",
             f"searcher: {searcher_name(spec)} "
             f"{ {k: v for k, v in spec.searcher.items() if k != 'type'} }",
             f"scheduler: {spec.scheduler}",
             f"trials: {spec.num_samples}, up to {spec.max_epochs} epochs each",
             f"resources per trial: {spec.resources}",
             f"trials at once: {concurrent or '0 (a trial does not fit here)'}",
             f"dataset: {spec.dataset.to_dict()}", "space:"]
    lines += [f"  {line}" for line in spec.space.describe()]
    lines += ["fixed:"] + [f"  {k}: {v}" for k, v in spec.fixed_config.items()]
    return "\n".join(lines)


def move_aside(experiment_dir: Path) -> Path | None:
    """`--restart`: keep the earlier run's files under a dated name rather than delete them."""
    if not experiment_dir.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = experiment_dir.with_name(f"{experiment_dir.name}.before-{stamp}")
    experiment_dir.rename(aside)
    return aside


def keep_token_private() -> None:
    """Ray writes its auth token readable by everyone (0644); it grants the cluster."""
    token = Path.home() / ".ray" / "auth_token"
    if token.exists():
        token.chmod(stat.S_IRUSR | stat.S_IWUSR)


def quiet_logs() -> None:
    """Only warnings from Ray, Ray Data and Optuna: the search's console says the rest."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tune's newer console prints its experiment table and a TensorBoard hint into Ray's
    # temporary session folder even when silent; its classic one at verbose 0 does not.
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    for name in ("ray", "ray.data", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)


def start_ray(address: str | None, dashboard_host: str = "127.0.0.1",
              dashboard_port: int | None = None, verbose: bool = False) -> None:
    import ray

    if ray.is_initialized():
        return
    quiet = {} if verbose else {"logging_level": logging.WARNING, "log_to_driver": False}
    if not verbose:  # the product says where the token is, in its own words, below
        logging.getLogger(compat.RAY_TOKEN_LOGGER).setLevel(logging.ERROR)
    if address:
        context = ray.init(address=address, **quiet)
    else:
        # A fresh local instance, even when `ray start` left one running (joining one is
        # what --address is for). The dashboard accepts job submissions: loopback by
        # default, behind Ray's token.
        # Searches starting at once would find the same port free: one at a time picks a
        # port and binds it.
        with open(Path(tempfile.gettempdir()) / "audiosearch-dashboard.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            port = dashboard_port or free_port(dashboard_host, DASHBOARD_PORT)
            context = ray.init(address="local", include_dashboard=True,
                               dashboard_host=dashboard_host, dashboard_port=port, **quiet)
    if not verbose:
        quiet_logs()
    keep_token_private()
    if context.dashboard_url:
        print(f"Ray dashboard: http://{context.dashboard_url}  "
              f"(token: {Path.home() / '.ray' / 'auth_token'})")


def trials_at_once(spec: Spec, cpus: float, gpus: float) -> int:
    """As many trials as the cluster's CPUs and GPUs hold, unless the spec says fewer;
    0 when a single trial does not fit."""
    by_cpu = int(cpus // spec.resources["cpu"]) if spec.resources["cpu"] else spec.num_samples
    by_gpu = int(gpus // spec.resources["gpu"]) if spec.resources["gpu"] else by_cpu
    fits = min(by_cpu, by_gpu, spec.num_samples)
    return min(fits, spec.max_concurrent) if spec.max_concurrent and fits else fits


def dry_run_concurrency(spec: Spec) -> int:
    """Trials at once on this machine, without starting Ray."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return trials_at_once(spec, os.cpu_count() or 1, gpus)


def prepare_variants(spec: Spec, results: Path) -> dict[str, str]:
    """Prepare (or reuse) every data variant the space names: variant key -> shard folder."""
    from embedding.embed import prepare_dataset

    shard_dirs = {}
    for key, dataset in spec.dataset_variants().items():
        prepared = prepare_dataset(dataset, results, progress=sys.stdout.isatty())
        counts = {split: sum(c.values()) for split, c in prepared.manifest.counts.items()}
        verb = "reused" if prepared.reused else "prepared"
        label = f" {key}" if key != "{}" else ""
        print(f"Data{label} {verb} in {prepared.seconds:.1f}s: {prepared.path} {counts}, "
              f"{len(prepared.manifest.rejected)} rejected")
        for line in describe_data(prepared.manifest):
            print(f"  {line}")
        shard_dirs[key] = str(prepared.path)
    return shard_dirs


def fit_until_interrupted(tuner) -> tuple[object, bool]:
    """`tuner.fit()`, and whether Ctrl-C (SIGINT) ended it early.

    Tune handles the first Ctrl-C itself (it stops the trials, saves the experiment and
    returns as if done), then puts back the handler it found: ours. So ours in place after
    `fit` means Ctrl-C came; a second Ctrl-C reaches ours and ends the driver at once."""

    def second_interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, second_interrupt)
    try:
        grid = tuner.fit()
        return grid, signal.getsignal(signal.SIGINT) is second_interrupt
    finally:
        signal.signal(signal.SIGINT, previous)


def changed_environment(experiment_dir: Path, now: dict[str, str]) -> str:
    """What of `now` (the machine type, library versions) differs from the earlier run's
    record in `experiment_dir`, as "numpy 2.4.6 (was 2.3.1)"; "" when nothing does or
    there is no earlier record."""
    if not (experiment_dir / EXPERIMENT_FILE).exists():
        return ""
    before = read_info(experiment_dir).environment
    return ", ".join(f"{name} {version} (was {before[name]})" for name, version in now.items()
                     if before.get(name, version) != version)


def earlier_fidelity(experiment_dir: Path) -> Fidelity | None:
    """The fidelity an interrupted search chose, which its resumed trials keep."""
    if not (experiment_dir / EXPERIMENT_FILE).exists():
        return None
    chosen = read_info(experiment_dir).fidelity
    return Fidelity(**chosen) if chosen else None


def run(
    spec: Spec,
    results: Path,
    seed: int | None = None,
    address: str | None = None,
    restart: bool = False,
    dashboard_host: str = "127.0.0.1",
    storage: str | None = None,
    dashboard_port: int | None = None,
    warm_start_from: Path | None = None,
    warm_start_top: int = 0,
    verbose: bool = False,
) -> Path:
    """Run the whole search (or resume it); return the experiment folder (a local mirror
    of it when `storage` is a remote URI). Prepared data is cached under `results`."""
    import ray
    from ray import tune

    from .tuning import make_trainable, make_tuner

    results = results.resolve()
    for file in weight_files(spec):
        ensure_weights(file)  # published weights, fetched on first use before any work
    start_ray(address, dashboard_host, dashboard_port, verbose)
    store = ExperimentStore(storage or str(results), spec.name, results / spec.name)
    if restart and not store.remote and (aside := move_aside(store.local)):
        print(f"Earlier run moved to {aside}")
    cluster = ray.cluster_resources()
    concurrent = trials_at_once(spec, cluster.get("CPU", 1), cluster.get("GPU", 0))
    if concurrent == 0:
        raise ConfigError(
            f"resources: a trial asks for {spec.resources} but the cluster has "
            f"{cluster.get('CPU', 0):g} CPUs and {cluster.get('GPU', 0):g} GPUs; "
            "lower --cpus-per-trial/--gpus-per-trial or join a cluster with --address"
        )

    shard_dirs = prepare_variants(spec, results)

    resuming = tune.Tuner.can_restore(store.uri)
    cost = CostModel.from_shards(shard_dirs)
    fidelity = earlier_fidelity(store.local) if resuming else None
    if fidelity is None:
        fidelity = plan_fidelity(spec.space.with_fixed(spec.fixed_config), spec.start_from,
                                 cost, shard_dirs, spec.epoch_seconds_limit,
                                 max(1, int(spec.resources["cpu"])))
    if fidelity.epoch_fraction < 1:
        spec.space.fixed[FIDELITY_KEY] = fidelity.epoch_fraction
    print(fidelity.describe())
    info = ExperimentInfo(metric=spec.metric, mode=spec.mode, max_epochs=spec.max_epochs,
                          model=spec.model, shards=shard_dirs, spec=spec.raw,
                          objectives=spec.objectives,
                          environment=current_environment(),
                          fidelity=dataclasses.asdict(fidelity))
    if resuming and (changed := changed_environment(store.local, info.environment)):
        print(f"warning: resuming on another machine type or library versions than the "
              f"search began with ({changed}): trials before and after may not compare")
    store.write_text(EXPERIMENT_FILE, info.to_json())

    searcher_seed = seed if seed is not None else spec.searcher.get("seed", 0)
    verb = "Resuming" if resuming else "Searching"
    print(f"{verb} {spec.num_samples} trials of {spec.model} with {searcher_name(spec)}, "
          f"{concurrent} at once, up to"
          f" {spec.max_epochs} epochs each -> {store.uri}")
    started = time.perf_counter()
    tuner = make_tuner(spec, make_trainable(spec, shard_dirs), store, concurrent, searcher_seed,
                       restore=resuming, verbose=verbose, cost=cost)
    if warm_start_from and not resuming:
        told, skipped = warm_start(store.local, warm_start_from, spec.space, warm_start_top)
        print(f"Warm start: the searcher knows {told} trials of {warm_start_from}"
              + (f" ({skipped} skipped: outside this space)" if skipped else "")
              + (f"; its best {warm_start_top} run first" if warm_start_top else ""))
    grid, interrupted = fit_until_interrupted(tuner)
    info.search_seconds = time.perf_counter() - started
    store.write_text(EXPERIMENT_FILE, info.to_json())
    unfinished = len(grid) - grid.num_terminated - grid.num_errors
    if not (unfinished or interrupted):  # an interrupted search resumes its running trials
        close_unfinished_trials(store.local, {Path(result.path).name for result in grid})
    experiment_dir = store.pull()
    path = leaderboard.write(experiment_dir)
    store.push(path)
    board = leaderboard.read(path)
    verb = "stopped" if unfinished or interrupted else "finished"
    print(f"\nSearch {verb} after {time.perf_counter() - started:.0f}s. Leaderboard: {path}")
    if skipped := configs_not_started(experiment_dir):
        print(f"{skipped} configs predicted over max_epoch_seconds "
              f"{spec.epoch_seconds_limit:g} were not started (the study records them)")
    try:
        from .report import write as write_report

        print(f"Report: {write_report(experiment_dir)}")
    except Exception as error:  # the search is done and saved; a plot must not undo that
        print(f"warning: the report could not be written ({error!r}); "
              f"retry with: python -m search.report {experiment_dir}", file=sys.stderr)
    test_column = spec.metric.replace("val_", "test_", 1)
    further = [leaderboard.objective_column(m) for m, _ in spec.objectives[1:]]
    shown = ["rank", "trial_id", f"{spec.metric}_best", test_column, *further, "epochs",
             "status", *spec.space.names]
    print(board[[c for c in shown if c in board]].head(5).to_string(index=False))
    if further and "pareto" in board:
        front = board[board["pareto"]]
        print(f"Pareto front ({len(front)} trials; export one with python -m search.export "
              f"{experiment_dir} --trial ID):")
        print(front[[c for c in shown if c in front]].to_string(index=False))
    print(f"Dashboard: python -m search.dashboard {experiment_dir}\n"
          f"TensorBoard: tensorboard --logdir {experiment_dir}")
    if board.empty and spec.time_budget_s and not interrupted:
        raise SearchIncomplete(
            f"the time budget ({spec.time_budget_s:g}s) ended before any trial reported an "
            "epoch; raise time_budget_s")
    if unfinished or interrupted:
        raise SearchIncomplete("interrupted before the search was done; run the same command "
                               "to resume")
    if len(board) and (board["status"] == Status.TOO_SLOW).all():
        raise SearchIncomplete(
            f"every trial was too slow: the fastest projected "
            f"{board['projected_epoch_s'].min():.1f}s per epoch, over max_epoch_seconds "
            f"{spec.epoch_seconds_limit:g}; raise time_budget_s or max_epoch_seconds, or "
            "search smaller models")
    if len(grid) and grid.num_errors == len(grid):
        raise SearchIncomplete(f"every trial failed ({len(grid)}); their errors are in the "
                               f"leaderboard's status column: {path}")
    return experiment_dir


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # progress lines in order with Ray's logs
    args = parse_args(argv)
    try:
        spec = apply_overrides(load_spec(args.space, args.set), args)
        if args.dry_run:
            print(describe(spec, dry_run_concurrency(spec)))
            return 0
        run(spec, args.results, seed=args.seed, address=args.address, restart=args.restart,
            dashboard_host=args.dashboard_host, storage=args.storage,
            dashboard_port=args.dashboard_port, warm_start_from=args.warm_start,
            warm_start_top=args.warm_start_top, verbose=args.verbose)
    except INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SearchIncomplete as error:
        print(f"search incomplete: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("search interrupted; run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
