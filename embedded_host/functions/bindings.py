"""Where the host answers, as the extension tells a client function: the public base URL for the management
(status) URLs it hands out, the loopback RPC base URL the SDK's client calls, and the key those URLs carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["RPC_PATH", "WEBHOOK_PATH", "Endpoints"]

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


@dataclass(frozen=True)
class Endpoints:
    """``public``/``rpc`` are base URLs (``http://host:port``); ``system_key`` is set when the Durable API needs
    a key, and then every management URL carries it as ``code=``, like the real ``statusQueryGetUri``."""

    public: str
    rpc: str
    hub: str
    system_key: str | None = None

    def _query(self) -> str:
        query = f"taskHub={self.hub}&connection=Storage"
        return f"{query}&code={self.system_key}" if self.system_key else query

    def management_urls(self, instance_id: str) -> dict[str, str]:
        """What ``POST orchestrators/...`` answers with (and ``create_check_status_response`` builds)."""
        root = f"{self.public}{WEBHOOK_PATH}/instances/{instance_id}"
        query = self._query()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{root}?{query}",
            "sendEventPostUri": f"{root}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{root}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{root}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{root}?{query}",
            "restartPostUri": f"{root}/restart?{query}",
            "suspendPostUri": f"{root}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{root}/resume?reason={{text}}&{query}",
        }

    def client_binding_json(self) -> str:
        """The string a ``durable_client_input`` parameter receives."""
        create = f"{self.public}{WEBHOOK_PATH}/orchestrators/{{functionName}}[/{{instanceId}}]"
        wait = "timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
        key = self.system_key
        data: dict[str, Any] = {
            "taskHubName": self.hub,
            "creationUrls": {
                "createNewInstancePostUri": create + (f"?code={key}" if key else ""),
                "createAndWaitOnNewInstancePostUri": f"{create}?{wait}" + (f"&code={key}" if key else ""),
            },
            "managementUrls": self.management_urls("INSTANCEID"),
            "baseUrl": f"{self.public}{WEBHOOK_PATH}",
            "requiredQueryStringParameters": f"code={key}" if key else "",
            "rpcBaseUrl": f"{self.rpc}{RPC_PATH}",
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
        }
        return json.dumps(data)
