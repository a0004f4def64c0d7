"""The experiment runner behind ``deepgep compare`` and the reports it writes."""

from .config import DEFAULT_CONFIG, METHODS, ConfigError, load_config, validate_config
from .report import theory_curves, tracking_run, write_results
from .runner import OutputDirError, run_sweep, run_task, tasks_of

__all__ = [
    "DEFAULT_CONFIG",
    "METHODS",
    "ConfigError",
    "load_config",
    "validate_config",
    "OutputDirError",
    "run_sweep",
    "run_task",
    "tasks_of",
    "theory_curves",
    "tracking_run",
    "write_results",
]
