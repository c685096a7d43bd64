"""The GLUE half: task registry and metrics, data and tokenised cache, fine-tuning, and the
offline mini-benchmark. See :mod:`.tasks`, :mod:`.data`, :mod:`.finetune`, :mod:`.minibench`."""

from .tasks import GLUE_TASKS, MINI_TASKS, PAPER_TASKS, TASKS, Task, compute_metrics, get_task

__all__ = ["GLUE_TASKS", "MINI_TASKS", "PAPER_TASKS", "TASKS", "Task", "compute_metrics",
           "get_task"]
