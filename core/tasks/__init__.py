"""Task sets with checkable answers, so that a transfer can be measured without a person.

- core.tasks.models: the task-file format (pydantic) and its JSON Schema (docs/task.schema.json)
- core.tasks.checkers: exact, set, number and regex checkers, each a score in [0, 1] and a sentence
- core.tasks.load: reading and validating task files, errors as ``FILE:LINE: field: what is wrong``

See docs/tasks.md; the sample sets are in sample_tasks/.
"""

from core.tasks.checkers import Score, as_answer, check
from core.tasks.load import TaskFile, load_task_file, load_task_files
from core.tasks.models import KNOWN_TASK_CLASSES, Budget, Context, Task, TasksHeader, json_schema

__all__ = [
    "KNOWN_TASK_CLASSES", "Budget", "Context", "Score", "Task", "TaskFile", "TasksHeader", "as_answer", "check",
    "json_schema", "load_task_file", "load_task_files",
]
