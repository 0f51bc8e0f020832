"""How a trial ended, as types: the training loop reports a `StopReason` beside its words,
the search turns it into a `Status`, and every reader (leaderboard, console, report,
benchmarks) compares these, never the text.

    status         what happened                              the study is told
    complete       its own loop ended it (max_epochs, ...)    COMPLETE, its best value
    stopped_early  a scheduler stopped it, or the budget cut  PRUNED
    too_slow       its epoch costs more than the cap          PRUNED (TPE moves away)
    error          it raised, or its loss diverged            FAIL
    running        not ended yet
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    COMPLETE = "complete"
    STOPPED_EARLY = "stopped_early"
    TOO_SLOW = "too_slow"
    ERROR = "error"
    RUNNING = "running"

    def __str__(self) -> str:  # as the leaderboard writes it
        return self.value


class StopReason(str, Enum):
    """Why the loop itself ended a trial (reported as `stop`; empty while it goes on)."""

    TOO_SLOW = "too_slow"
    DIVERGED = "diverged"
    PATIENCE = "patience"
    MIN_TRAIN_LOSS = "min_train_loss"
    MAX_EPOCHS = "max_epochs"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, result: dict) -> StopReason | None:
        """The reason a trial's last report gives; None when the loop did not end it.
        Reports written before `stop` existed are read from their words."""
        code = result.get("stop")
        if code:
            return cls(code)
        text = result.get("stop_reason") or ""
        for reason, words in _WORDS.items():
            if text.startswith(words):
                return reason
        return None

    @property
    def status(self) -> Status:
        """The status of a trial the loop ended for this reason."""
        if self is StopReason.TOO_SLOW:
            return Status.TOO_SLOW
        if self is StopReason.DIVERGED:
            return Status.ERROR
        return Status.COMPLETE


# The loop's words for each reason (what `stop_reason` says), for reports made before
# `stop` was reported.
_WORDS = {
    StopReason.TOO_SLOW: "too_slow",
    StopReason.DIVERGED: "diverged",
    StopReason.PATIENCE: "early stop (patience)",
    StopReason.MIN_TRAIN_LOSS: "reached min_train_loss",
    StopReason.MAX_EPOCHS: "max_epochs",
}
