"""The engine's names and request defaults, as the server's schemas use them.

Policy names live in the engine's registry (``tersify.available_policies``), reorder and
granularity values in ``tersify.types`` and request defaults on ``tersify.CompressionRequest``.
The request models (and so the OpenAPI's enums and defaults) and the playground page read them
from there, so a policy added to the engine is offered everywhere without another edit.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, Literal

from tersify.policies import available_policies
from tersify.types import CompressionRequest

__all__ = ["DEFAULT_POLICY", "POLICIES", "REQUEST_FIELDS", "PolicyName", "engine_default"]

POLICIES = available_policies()
REQUEST_FIELDS = {f.name: f for f in fields(CompressionRequest)}

if TYPE_CHECKING:
    PolicyName = str  # the registry is known at run time only
else:
    PolicyName = Literal[POLICIES]


def engine_default(name: str) -> Any:
    """The default of ``CompressionRequest.<name>`` (a plain value, never a factory)."""
    default = REQUEST_FIELDS[name].default
    if default is MISSING:
        raise TypeError(f"CompressionRequest.{name} has no plain default")
    return default


DEFAULT_POLICY: str = engine_default("policy")
