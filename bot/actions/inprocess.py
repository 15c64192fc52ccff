"""Run rasa_sdk actions inside the Rasa server process.

Rasa calls custom actions over HTTP; this endpoint answers the same JSON in-process,
saving a second server and a network hop per turn while keeping the standard SDK.
"""
from __future__ import annotations

from typing import Any, Optional, Text

from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor


class InProcessActionEndpoint(EndpointConfig):
    def __init__(self, package: str = "bot.actions") -> None:
        super().__init__(url="inprocess://actions")
        self.executor = ActionExecutor()
        self.executor.register_package(package)

    async def request(self, method: Text = "post", subpath: Optional[Text] = None,
                      content_type: Optional[Text] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        return await self.executor.run(kwargs["json"])
