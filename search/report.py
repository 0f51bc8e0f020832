"""`python -m search.report results/<experiment>`: `report/report.html` with PNG plots.

Best-so-far against time and trials; learning curves of the top trials, with the epochs
where the scheduler stopped the others; hyperparameter importance (Optuna's PED-ANOVA);
the metric against each key; and the best model on the test split: confusion matrix and
per-class precision, recall and F1, or ROC and PR curves for multi-label tasks. The page
and its images are plain files: it opens offline.
"""

from __future__ import annotations

import argparse
import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only; no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from contracts.experiment import describe_environment, read_info

from . import interactive  # noqa: E402
from .inference import TrainedModel, split_probabilities  # noqa: E402
from .interactive import IMPORTANCE_METHOD, param_importances  # noqa: E402
from .leaderboard import (  # noqa: E402
    build,
    objective_column,
    read_results,
    trial_shard_dir,
    with_checkpoints,
)
from .spec import parse_spec  # noqa: E402
from .study import STUDY_FILE  # noqa: E402

TOP_CURVES = 5


def _epoch_reports(board: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for trial_dir in board["trial_dir"]:
        rows += read_results(trial_dir)
    return pd.DataFrame(rows)


def _figure(path: Path, draw: Callable[[plt.Axes], None], size=(7, 4)) -> str:
    fig, ax = plt.subplots(figsize=size)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def best_so_far(reports: pd.DataFrame, board: pd.DataFrame, metric: str, mode: str,
                out: Path) -> str:
    better = np.fmax.accumulate if mode == "max" else np.fmin.accumulate
    clock = "reported_at" if "reported_at" in reports else "timestamp"
    by_time = reports.sort_values(clock)
    elapsed = by_time[clock] - by_time[clock].min()
    started = reports.groupby("trial_id")[clock].min()
    trial_best = board.set_index("trial_id")[f"{metric}_best"]
    in_start_order = trial_best.reindex(started.sort_values().index).to_numpy()
    trial_number = np.arange(1, len(in_start_order) + 1)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.step(elapsed, better(by_time[metric].to_numpy()), where="post")
    left.scatter(elapsed, by_time[metric], s=8, alpha=0.3)
    left.set(xlabel="seconds since the first report", ylabel=f"{metric} (best so far)",
             title="Best so far against time")
    right.step(trial_number, better(in_start_order), where="post")
    right.scatter(trial_number, in_start_order, s=12, alpha=0.5)
    right.set(xlabel="trial, in the order they started", ylabel=metric,
              title="Best so far against trials")
    right.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(out / "best_so_far.png", dpi=100)
    plt.close(fig)
    return "best_so_far.png"


def learning_curves(reports: pd.DataFrame, board: pd.DataFrame, metric: str,
                    out: Path) -> str:
    top = set(board["trial_id"].head(TOP_CURVES))

    def draw(ax):
        for trial_id, rows in reports.groupby("trial_id"):
            rows = rows.sort_values("epoch")
            if trial_id in top:
                ax.plot(rows["epoch"], rows[metric], marker="o", ms=3, label=trial_id)
            else:
                ax.plot(rows["epoch"], rows[metric], color="grey", alpha=0.25, lw=1)
        stopped = board[board["stopped_by_scheduler"]]
        last = reports.sort_values("epoch").groupby("trial_id").last()
        points = last.loc[last.index.isin(stopped["trial_id"])]
        ax.scatter(points["epoch"], points[metric], marker="x", color="red", zorder=3,
                   label="stopped by the scheduler")
        ax.set(xlabel="epoch", ylabel=metric,
               title=f"Learning curves: the top {len(top)} trials, the rest in grey")
        ax.legend(fontsize=7)

    return _figure(out / "learning_curves.png", draw)


def importance(board: pd.DataFrame, spec_raw: dict[str, Any], metric: str, mode: str,
               out: Path) -> tuple[str | None, str]:
    """Optuna's importance (PED-ANOVA) over the finished trials, or why there is none."""
    import optuna

    space = parse_spec(spec_raw).space
    distributions = {p.name: p.distribution() for p in space.searched}
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    for _, row in board.iterrows():
        value = row[f"{metric}_best"]
        if not math.isfinite(value):
            continue
        params = {k: _native(row[k]) for k in distributions if k in row and pd.notna(row[k])}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions={k: distributions[k] for k in params}, value=value))
    if len(study.trials) < 3 or not distributions:
        return None, "Too few finished trials to estimate importance."
    try:
        scores = param_importances(study)
    except (RuntimeError, ValueError) as error:
        return None, f"Importance could not be estimated: {error}"
    names = list(scores)[::-1]

    def draw(ax):
        ax.barh(names, [scores[n] for n in names])
        ax.set(xlabel=f"importance ({IMPORTANCE_METHOD})", title="Hyperparameter importance")

    return _figure(out / "importance.png", draw, size=(7, 0.4 * len(names) + 1.5)), ""


def _native(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def metric_against_keys(board: pd.DataFrame, params: list, metric: str,
                        out: Path) -> str | None:
    """One panel per searched key: a scatter for ranges (log axis for log ranges), points
    per category for choices."""
    params = [p for p in params if p.name in board and board[p.name].notna().any()]
    if not params:
        return None
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, param in zip(axes.ravel(), params, strict=False):
        values = board[param.name]
        y = board[f"{metric}_best"]
        if param.kind == "choice":
            labels = [str(v) for v in param.args]
            positions = values.astype(str).map({v: i for i, v in enumerate(labels)})
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
            ax.scatter(positions + jitter, y, s=14)
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
        else:
            ax.scatter(values, y, s=14)
            if param.kind == "loguniform" or param.log:
                ax.set_xscale("log")
        ax.set(xlabel=param.name, ylabel=metric)
    for ax in axes.ravel()[len(params):]:
        ax.axis("off")
    fig.suptitle(f"{metric} against each key")
    fig.tight_layout()
    fig.savefig(out / "metric_by_key.png", dpi=100)
    plt.close(fig)
    return "metric_by_key.png"


def pareto_front(board: pd.DataFrame, objectives: list[tuple[str, str]], out: Path) -> str:
    """The first two objectives of every trial, the front joined and labelled by trial."""
    (metric, _), (other, _) = objectives[:2]
    x, y = f"{metric}_best", objective_column(other)
    scored = board.dropna(subset=[x, y])
    front = scored[scored["pareto"].astype(bool)].sort_values(x)

    def draw(ax: plt.Axes) -> None:
        ax.scatter(scored[x], scored[y], s=18, color="0.6", label="trials")
        ax.plot(front[x], front[y], "o-", color="C3", label="Pareto front")
        for row in front.itertuples():
            ax.annotate(str(row.trial_id), (getattr(row, x), getattr(row, y)),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xlabel(f"{metric} (best epoch)")
        ax.set_ylabel(f"{other} (at that epoch)")
        ax.legend()

    return _figure(out / "pareto_front.png", draw)


def test_figures(trained: TrainedModel, shard_dir: str, out: Path) -> tuple[list[str], str]:
    """The best model on the test split: figures and an HTML table."""
    from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_curve

    from trainables.metrics import confusion

    targets, probs = split_probabilities(trained, shard_dir, "test")
    names = trained.label_names
    if not len(targets):
        return [], "<p>No test split.</p>"
    if targets.ndim == 1:
        predicted = probs.argmax(axis=1)
        matrix = confusion(targets, probs)

        def draw(ax):
            ax.imshow(matrix, cmap="Blues")
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(names)), names, fontsize=8)
            for (i, j), count in np.ndenumerate(matrix):
                ax.text(j, i, count, ha="center", va="center", fontsize=7,
                        color="white" if count > matrix.max() / 2 else "black")
            ax.set(xlabel="predicted", ylabel="true",
                   title="Best model on test: confusion matrix")

        size = (0.5 * len(names) + 3, 0.5 * len(names) + 2.5)
        figure = _figure(out / "confusion_matrix.png", draw, size=size)
        p, r, f, support = precision_recall_fscore_support(
            targets, predicted, labels=np.arange(len(names)), zero_division=0)
        table = pd.DataFrame({"class": names, "precision": p, "recall": r, "f1": f,
                              "support": support})
        return [figure], table.to_html(index=False, float_format="%.3f")

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    for k, name in enumerate(names):
        if 0 < targets[:, k].sum() < len(targets):
            fpr, tpr, _ = roc_curve(targets[:, k], probs[:, k])
            precision, recall, _ = precision_recall_curve(targets[:, k], probs[:, k])
            left.plot(fpr, tpr, label=name)
            right.plot(recall, precision, label=name)
    left.plot([0, 1], [0, 1], "k--", lw=0.8)
    left.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    right.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "roc_pr.png", dpi=100)
    plt.close(fig)
    return ["roc_pr.png"], ""


def write(experiment_dir: str | Path) -> Path:
    experiment_dir = Path(experiment_dir)
    info = read_info(experiment_dir)
    metric, mode = info.metric, info.mode
    board = build(experiment_dir)
    out = experiment_dir / "report"
    out.mkdir(exist_ok=True)
    sections: list[tuple[str, list[str], str]] = []
    reports = _epoch_reports(board) if len(board) else pd.DataFrame()
    if reports.empty or metric not in reports:
        sections.append(("No results yet", [], "<p>No trial has reported an epoch.</p>"))
    else:
        reports = reports[reports[metric].notna()]
        sections.append(("Search progress",
                         [best_so_far(reports, board, metric, mode, out)], ""))
        sections.append(("Learning curves", [learning_curves(reports, board, metric, out)], ""))
        figure, note = importance(board, info.spec, metric, mode, out)
        sections.append(("Hyperparameter importance", [figure] if figure else [],
                         f"<p>{html.escape(note)}</p>" if note else ""))
        params = parse_spec(info.spec).space.searched
        figure = metric_against_keys(board, params, metric, out)
        sections.append((f"{metric} against each key", [figure] if figure else [], ""))
        if info.further_objectives and "pareto" in board:
            sections.append(("Pareto front", [pareto_front(board, info.objectives, out)],
                             "<p>Each front member is labelled with its trial id;"
                             " export one with <code>python -m search.export "
                             f"{html.escape(str(experiment_dir))} --trial ID</code>.</p>"))
        best = with_checkpoints(board, 1)
        if len(best):
            row = best.iloc[0]
            trained = TrainedModel.load(row["checkpoint"])
            figures, table = test_figures(trained, trial_shard_dir(info, row["trial_dir"]), out)
            sections.append((f"Best model on the test split (trial {row['trial_id']})",
                             figures, table))
    columns = [c for c in ("rank", "trial_id", "pareto", f"{metric}_best", "epochs", "status",
                           "params", "train_seconds") if c in board]
    summary = board[columns].head(10).to_html(index=False, float_format="%.4g")
    body = "".join(
        f"<h2>{html.escape(title)}</h2>"
        + "".join(f'<img src="{name}" alt="{html.escape(title)}">' for name in figures)
        + extra
        for title, figures, extra in sections
    )
    if (experiment_dir / STUDY_FILE).exists():
        body += interactive.sections(experiment_dir, metric)
    made_with = (f"<p>Made with {html.escape(describe_environment(info.environment))}.</p>\n"
                 if info.environment else "")
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(experiment_dir.name)}: search report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}img{{max-width:100%;
display:block;margin:1em 0}}table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px
solid #ccc;padding:3px 8px}}</style></head><body>
<h1>{html.escape(experiment_dir.name)}</h1>
<p>{len(board)} trials of {html.escape(info.model)}, ranked by {metric} ({mode}).</p>
{made_with}{summary}{body}</body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m search.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    args = parser.parse_args(argv)
    print(f"Report: {write(args.experiment_dir)}")


if __name__ == "__main__":
    main()
