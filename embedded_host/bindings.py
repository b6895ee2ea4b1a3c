"""The durable-client binding JSON the extension hands a client function (``rpcBaseUrl`` points at this host)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["client_binding_json", "management_payload"]

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


def _management_urls(base_url: str, hub: str, instance_id: str) -> dict[str, str]:
    root = f"{base_url}{WEBHOOK_PATH}/instances/{instance_id}"
    query = f"taskHub={hub}&connection=Storage"
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


def management_payload(base_url: str, hub: str, instance_id: str) -> dict[str, str]:
    """What ``POST orchestrators/...`` answers with (and ``create_check_status_response`` builds)."""
    return _management_urls(base_url, hub, instance_id)


def client_binding_json(base_url: str, hub: str) -> str:
    """The string a ``durable_client_input`` parameter receives."""
    data: dict[str, Any] = {
        "taskHubName": hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{base_url}{WEBHOOK_PATH}/orchestrators/{{functionName}}[/{{instanceId}}]",
            "createAndWaitOnNewInstancePostUri": (
                f"{base_url}{WEBHOOK_PATH}/orchestrators/{{functionName}}[/{{instanceId}}]"
                "?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}"
            ),
        },
        "managementUrls": _management_urls(base_url, hub, "INSTANCEID"),
        "baseUrl": f"{base_url}{WEBHOOK_PATH}",
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": f"{base_url}{RPC_PATH}",
        "httpBaseUrl": "",
        "maxGrpcMessageSizeInBytes": 0,
    }
    return json.dumps(data)
