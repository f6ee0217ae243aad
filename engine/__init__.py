"""wfconsole's workflow engine: blueprints, validation, CEL conditions, the pure state machine, the manager."""

from engine.blueprint import Blueprint, Edge, Node, NodeKind
from engine.errors import (
    BlueprintConflictError,
    BlueprintError,
    InvalidStateError,
    InvalidValueError,
    MalformedExecutionIdError,
    NoMatchingConditionError,
    Problem,
    StaleClaimError,
    StoreError,
    UnknownExecutionError,
    UnknownInstanceError,
    UnknownWorkflowError,
    WorkflowError,
)
from engine.manager import WorkflowManager, parse_execution_id
from engine.model import (
    Execution,
    ExecutionStatus,
    HistoryEntry,
    HistoryKind,
    InstanceStatus,
    TaskPayload,
    Token,
    TokenStatus,
)
from engine.ports import InstanceQuery, InstanceSummary, InstanceView
from engine.validate import compile_blueprint, validate

__all__ = [
    "Blueprint", "BlueprintConflictError", "BlueprintError", "Edge", "Execution", "ExecutionStatus",
    "HistoryEntry", "HistoryKind", "InstanceQuery", "InstanceStatus", "InstanceSummary", "InstanceView",
    "InvalidStateError", "InvalidValueError", "MalformedExecutionIdError", "NoMatchingConditionError", "Node",
    "NodeKind", "Problem", "StaleClaimError", "StoreError", "TaskPayload", "Token", "TokenStatus",
    "UnknownExecutionError", "UnknownInstanceError", "UnknownWorkflowError", "WorkflowError", "WorkflowManager",
    "compile_blueprint", "parse_execution_id", "validate",
]
