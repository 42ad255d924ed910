"""The Workbench's panels, one module each; every panel redraws from the change feed."""

from caw_lab.lab.panels.agents import Agents
from caw_lab.lab.panels.base import Panel
from caw_lab.lab.panels.execution import Execution
from caw_lab.lab.panels.inbox import Inbox
from caw_lab.lab.panels.task_detail import TaskDetail
from caw_lab.lab.panels.workflow_form import WorkflowForm
from caw_lab.lab.panels.workflows import WorkflowList

__all__ = ["Agents", "Execution", "Inbox", "Panel", "TaskDetail", "WorkflowForm", "WorkflowList"]
