"""What a trial's checkpoint folder holds (read by search without importing Tune or torch)."""

STATE_FILE = "state.pt"  # model, optimiser, schedule, config, labels, normalisation
METRICS_FILE = "metrics.json"  # the epoch's reported metrics
