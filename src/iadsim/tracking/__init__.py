"""Tracking: Kalman filtering, gating and association, and the track-file step.

Stone Soup's roles (predictor, updater, hypothesiser, associator, initiator, deleter) as small
pure functions over arrays; see the module docstrings for models and sources.
"""

from iadsim.tracking.associate import gate_costs, gnn
from iadsim.tracking.kalman import (
    convert_measurements,
    cv_process_noise,
    cv_transition,
    predict,
    update,
)
from iadsim.tracking.tracker import StepInfo, tracker_step

__all__ = [
    "StepInfo",
    "convert_measurements",
    "cv_process_noise",
    "cv_transition",
    "gate_costs",
    "gnn",
    "predict",
    "tracker_step",
    "update",
]
