"""The GLUE half: task registry and metrics (:mod:`.tasks`), data and tokenised cache
(:mod:`.data`), the offline mini-benchmark (:mod:`.minibench`), fine-tuning (:mod:`.hparams`,
:mod:`.model`, :mod:`.device`, :mod:`.sampler`, :mod:`.checkpoint`, :mod:`.train`), the rules'
planning helpers (:mod:`.plan`) and the file-level stages (:mod:`.stages`)."""

from .tasks import GLUE_TASKS, MINI_TASKS, PAPER_TASKS, TASKS, Task, compute_metrics, get_task

__all__ = ["GLUE_TASKS", "MINI_TASKS", "PAPER_TASKS", "TASKS", "Task", "compute_metrics",
           "get_task"]
