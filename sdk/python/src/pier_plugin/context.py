"""Who is calling: give a tool, prompt or resource function a parameter typed `Context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from . import host


@dataclass
class Context:
    request_id: str = ""
    """The JSON-RPC id of the request, as text."""
    session: Optional[str] = None
    """The MCP session, when the transport has one."""
    identity: Optional[str] = None
    """The authenticated caller (an HTTP token's identity, or the one configured for stdio)."""
    meta: dict[str, str] = field(default_factory=dict)
    """Everything else pier passes (`mcp.meta.KEY` → JSON text, `pier.time-limit-ms`, ...)."""

    @property
    def time_limit_ms(self) -> Optional[int]:
        """The call's wall-clock limit, when pier gave one."""
        value = self.meta.get("pier.time-limit-ms")
        return int(value) if value and value.isdigit() else None

    def progress(self, progress: float, total: Optional[float] = None, message: Optional[str] = None) -> None:
        """Reports progress; pier forwards it when the client asked for progress."""
        host.progress(self.request_id, progress, total, message)

    def log(self, level: str, message: str) -> None:
        host.log(level, message)
