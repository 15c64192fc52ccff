"""Run rasa_sdk actions inside the Rasa server process.

Rasa calls custom actions over HTTP; this endpoint answers the same JSON in-process,
saving a second server and a network hop per turn while keeping the standard SDK. The
server hands in the action objects it built, so they share its catalog provider and
handoff service instead of reading settings of their own.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Text

from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor


class InProcessActionEndpoint(EndpointConfig):
    def __init__(self, actions: Iterable[Action]) -> None:
        super().__init__(url="inprocess://actions")
        self.executor = ActionExecutor()
        for action in actions:
            self.executor.register_action(action)

    async def request(self, method: Text = "post", subpath: Optional[Text] = None,
                      content_type: Optional[Text] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        return await self.executor.run(kwargs["json"])
