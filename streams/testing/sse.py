"""A viewer of the dashboard's live feed, for the tests and bench/sse_viewers.py: reads
``GET /api/petitions/{id}/events`` as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


def events_url(base: str, petition_id: str) -> str:
    return f"{base}/api/petitions/{petition_id}/events"


async def read_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """``(event name, decoded data)`` of each event, in order; comments (keep-alives)
    are skipped. Ends when the server closes the stream."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            name, data = "message", []
            for line in block.decode().split("\n"):
                if line.startswith("event:"):
                    name = line[len("event:") :].strip()
                elif line.startswith("data:"):
                    data.append(line[len("data:") :].strip())
            if data:
                yield name, json.loads("\n".join(data))
