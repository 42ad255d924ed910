"""Running agents: runtime adapters behind one small base class, and the executor.

``base`` (Runtime, Handle, Launch, Exit, RunOptions), the built-in runtimes ``python``,
``subprocess``, ``claude_code`` and ``codex``, ``registry`` (built-ins plus the
``caw_lab.runtimes`` entry-point group), ``settings`` (a workflow's ``execution`` config),
``executor`` (the loop that keeps agents busy) and ``running`` (executors of this process,
behind workflow_start/suspend/resume/execution_status).
"""

from caw_lab.runtimes.base import Exit, Handle, Launch, RunOptions, Runtime
from caw_lab.runtimes.claude_code import ClaudeCodeRuntime
from caw_lab.runtimes.codex import CodexRuntime
from caw_lab.runtimes.executor import Executor, Outcome, Progress
from caw_lab.runtimes.python import PythonRuntime
from caw_lab.runtimes.subprocess import SubprocessRuntime
from caw_lab.runtimes.task_context import Stopped, TaskContext

__all__ = [
    "ClaudeCodeRuntime",
    "CodexRuntime",
    "Executor",
    "Exit",
    "Handle",
    "Launch",
    "Outcome",
    "Progress",
    "PythonRuntime",
    "RunOptions",
    "Runtime",
    "Stopped",
    "SubprocessRuntime",
    "TaskContext",
]
