"""The audit tools' client of ``countersign serve``: its public API and its /ops routes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from streams.core.errors import ServeUnavailable
from streams.core.settings import Settings


class ServeClient:
    def __init__(self, settings: Settings, timeout: float = 60.0) -> None:
        self.base = settings.api_base_url
        self.token = settings.ops_token.get_secret_value()
        self.timeout = timeout

    def get(self, path: str, *, ops: bool = True) -> Any:
        return self._call(urllib.request.Request(self._url(path, ops)), ops)

    def get_if_found(self, path: str, *, ops: bool = True) -> Any | None:
        """``get``, but None where the server answers 404 (nothing there yet)."""
        try:
            return self.get(path, ops=ops)
        except ServeUnavailable as exc:
            if isinstance(exc.__cause__, urllib.error.HTTPError) and exc.__cause__.code == 404:
                return None
            raise

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self._url(path, True),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return self._call(request, True)

    def _url(self, path: str, ops: bool) -> str:
        return f"{self.base}/ops{path}" if ops else f"{self.base}{path}"

    def _call(self, request: urllib.request.Request, ops: bool) -> Any:
        if ops:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise ServeUnavailable(
                    f"{self.base} refused the ops token: set COUNTERSIGN_OPS_TOKEN to the "
                    "one `countersign serve` runs with"
                ) from exc
            raise ServeUnavailable(
                f"{request.full_url} answered {exc.code}: {exc.read()[:300]!r}"
            ) from exc
        except OSError as exc:
            raise ServeUnavailable(
                f"countersign serve did not answer at {self.base} ({exc}); is it running? "
                "(`make run` starts it; COUNTERSIGN_API_URL points elsewhere)"
            ) from exc
