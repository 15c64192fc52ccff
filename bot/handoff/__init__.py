"""Human handoff: one persisted state machine, the queue, and the tracker side effects."""
from bot.handoff.machine import HandoffError, HandoffService, InvalidTransition, QueueEntry

__all__ = ["HandoffError", "HandoffService", "InvalidTransition", "QueueEntry"]
