"""Custom actions (rasa_sdk), run in-process by bot.actions.inprocess."""
from bot.actions.dialogue import ActionMadoguchi

__all__ = ["ActionMadoguchi"]
