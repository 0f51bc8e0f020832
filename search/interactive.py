"""The report's interactive plots: Optuna's plotly figures of the study, written into the
page with plotly.js itself (no CDN: the report opens offline)."""

from __future__ import annotations

import html
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .study import load_study

# What `param_importances` computes: Optuna 5's default evaluator.
IMPORTANCE_METHOD = "PED-ANOVA"


def param_importances(study, target=None) -> dict[str, float]:
    """Optuna's importance of each key (PED-ANOVA) for reaching good values; with
    `target`, for low values of it (the caller gives the sign: Optuna's warning that it
    ranks by low values is then said on purpose, and filtered here alone, with its note
    that equal values give equal importances)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*computes the importances of params to "
                                "achieve low `target` values", category=UserWarning)
        # ... and that trials of equal values give equal importances: the plot shows it.
        warnings.filterwarnings("ignore", message="Target and region quantiles select the "
                                "same set of trials", category=UserWarning)
        # ... and that a conditional key (momentum only with sgd) has few trials in a regime.
        warnings.filterwarnings("ignore", message="Some regimes for parameter .* have less "
                                "than 2 trials", category=UserWarning)
        return optuna.importance.get_param_importances(study, target=target)

def sections(experiment_dir: Path, metric: str) -> str:
    """HTML of the parallel coordinates, the contour of the two most important keys and,
    for several objectives, the Pareto front; empty when the study has too few trials."""
    study = load_study(experiment_dir)
    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(finished) < 2:
        return ""
    several = len(study.directions) > 1
    target = {"target": (lambda t: t.values[0]), "target_name": metric} if several else \
        {"target_name": metric}
    figures = [("Parallel coordinates", optuna.visualization.plot_parallel_coordinate(
        study, **target))]
    # Importance of reaching a good value: Optuna's evaluator ranks keys by low values.
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    try:
        top = list(param_importances(study, target=lambda t: sign * t.values[0]))[:2]
    except (RuntimeError, ValueError):  # a single key, or no spread to explain
        top = []
    if len(top) == 2:
        figures.append((f"{metric} over {top[0]} and {top[1]}",
                        optuna.visualization.plot_contour(study, params=top, **target)))
    if several:
        # Studies this project makes name their metrics; an older one gets placeholders.
        names = study.metric_names or [
            metric, *(f"objective {i}" for i in range(1, len(study.directions)))]
        figures.append(("Pareto front", optuna.visualization.plot_pareto_front(
            study, target_names=names)))
    parts = []
    for i, (title, figure) in enumerate(figures):
        figure.update_layout(height=480, margin={"t": 40})
        parts.append(f"<h3>{html.escape(title)}</h3>" + figure.to_html(
            full_html=False, include_plotlyjs=(i == 0), default_width="100%"))
    return "<h2>Interactive</h2>" + "".join(parts)
