"""The book's optimizers and learning-rate schedules built from an OptimConfig with torch.optim (below the engine)."""

from d2ltui.optim.optimizers import make_optimizer, trainable_groups
from d2ltui.optim.schedules import lr_factor, make_scheduler, schedule_curve

__all__ = ["lr_factor", "make_optimizer", "make_scheduler", "schedule_curve", "trainable_groups"]
