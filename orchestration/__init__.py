"""Floor 2: the one CLI and the jobs that span stages (up, retrain, score). Imports the stages; no stage imports it."""
