"""A petition's public log served over HTTP on loopback, as the API serves it
(``streams.web.log_routes``'s answers), from leaves and a head the test chooses: an
honest log, or a dishonest server's. Also serves the /receipt page and its script,
for the browser's check. Shared by tests/unit/test_public_log_audit.py and
tests/browser/test_receipt_page.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from streams.rules import merkle
from streams.rules.log_writer import PetitionLog
from streams.rules.signed_note import Signer
from streams.rules.transparency import LeafKind, leaf, signature_commitment

STATIC = Path(__file__).resolve().parents[1] / "streams" / "web" / "static"
PAGES = {
    "/receipt": (STATIC / "receipt.html", "text/html"),
    "/static/dist/receipt.js": (STATIC / "dist" / "receipt.js", "text/javascript"),
    "/static/dashboard.css": (STATIC / "dashboard.css", "text/css"),
}

KEY = b"salt-key-of-this-test-0123456789"
SIGNER = Signer("countersign.test", bytes(range(32)))
PETITION = "syria-icc"


def honest_leaves(n: int) -> list[bytes]:
    return [leaf(LeafKind.ADDED, signature_commitment(KEY, f"sig-{i}", "SY")) for i in range(n)]


def signed_head(leaves: list[bytes], signer: Signer = SIGNER) -> str:
    log = PetitionLog(PETITION)
    for data in leaves:
        log.append(data, 0)
    return log.sign("countersign.test", signer)


class Served:
    """What the server answers: its leaves and the head it signs."""

    def __init__(self, leaves: list[bytes], note: str, signer: Signer = SIGNER) -> None:
        self.leaves = leaves
        self.note = note
        #: Whose key /api/keys names.
        self.signer = signer

    def answer(self, path: str, query: dict[str, str]) -> Any:
        hashes = [merkle.leaf_hash(data) for data in self.leaves]
        size = int(self.note.split("\n")[1])
        if path.endswith("/log/head"):
            return {"tree_size": size, "note": self.note}
        if path.endswith("/log/leaves"):
            start, end = int(query["start"]), int(query["end"])
            return {"start": start, "leaves": [d.hex() for d in self.leaves[start:end]]}
        if path.endswith("/log/proof"):
            wanted = leaf(LeafKind.ADDED, bytes.fromhex(query["commitment"]))
            index = self.leaves.index(wanted)
            proof = merkle.inclusion_proof(index, hashes[:size])
            return {
                "leaf_index": index,
                "proof": [node.hex() for node in proof],
                "head": {"note": self.note},
            }
        if path.endswith("/log/consistency"):
            old, new = int(query["from"]), int(query["to"])
            return {"proof": [node.hex() for node in merkle.consistency_proof(old, hashes[:new])]}
        raise AssertionError(path)


@contextmanager
def log_server() -> Iterator[tuple[str, list[Served]]]:
    """A log server on loopback; the test sets what it serves (``served[0]``)."""
    served: list[Served] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            content_type = "application/json"
            if url.path in PAGES:
                path, content_type = PAGES[url.path]
                body = path.read_bytes()
            elif url.path == "/api/keys":
                key = served[0].signer.verifier.encode()
                body = json.dumps({"transparency": {"key": key}}).encode()
            else:
                body = json.dumps(served[0].answer(url.path, query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
