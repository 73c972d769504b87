"""The petitions' public logs over HTTP (docs/transparency.md): the newest signed head,
inclusion and consistency proofs against it, the leaves for a full audit, and the key
that checks the heads. Everything here can be checked without trusting this server:
a proof is checked against a head, and a head against the published key.

- ``GET /api/petitions/{id}/log/head``
- ``GET /api/petitions/{id}/log/proof?leaf=<hex>`` (or ``?commitment=<hex>``)
- ``GET /api/petitions/{id}/log/consistency?from=N[&to=M]``
- ``GET /api/petitions/{id}/log/leaves?start=N[&end=M]``
- ``GET /api/keys``
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sinks.clickhouse.log_queries import LogReader, SignedHead
from streams.catalogue.follower import PetitionLookup
from streams.core.answers import JsonRefusal
from streams.rules import merkle
from streams.rules.signed_note import Verifier
from streams.rules.transparency import LEAF_SIZE, LeafKind, leaf

#: The most leaves one answer of ``/log/leaves`` carries (a full audit pages).
MAX_LEAVES = 10_000


class LeafHashes:
    """Each petition's leaf hashes, read once and extended as its log grows: a proof
    needs every hash up to the head's size."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self._hashes: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()

    def first(self, petition_id: str, size: int) -> list[bytes] | None:
        """The first ``size`` leaf hashes, or None while the table lacks some."""
        with self._lock:
            known = self._hashes.setdefault(petition_id, [])
            if len(known) < size:
                more = self.reader.leaves(petition_id, len(known), size)
                known.extend(merkle.leaf_hash(data) for data in more)
            return known[:size] if len(known) >= size else None


@dataclass(frozen=True)
class Logs:
    reader: LogReader
    hashes: LeafHashes
    petitions: PetitionLookup
    #: Checks the heads: what ``/api/keys`` publishes.
    verifier: Verifier


LOGS: web.AppKey[Logs] = web.AppKey("logs", Logs)


def add_routes(app: web.Application, logs: Logs) -> None:
    app[LOGS] = logs
    app.add_routes(
        [
            web.get("/api/keys", keys),
            web.get("/api/petitions/{petition_id}/log/head", head),
            web.get("/api/petitions/{petition_id}/log/proof", inclusion),
            web.get("/api/petitions/{petition_id}/log/consistency", consistency),
            web.get("/api/petitions/{petition_id}/log/leaves", leaves),
        ]
    )


async def keys(request: web.Request) -> web.Response:
    verifier = request.app[LOGS].verifier
    return web.json_response({"transparency": {"name": verifier.name, "key": verifier.encode()}})


async def _signed_head(request: web.Request) -> tuple[str, SignedHead]:
    petition_id = request.match_info["petition_id"]
    logs = request.app[LOGS]
    if await logs.petitions.known(petition_id) is None:
        raise JsonRefusal(404, f"no petition {petition_id!r}")
    found = await asyncio.to_thread(logs.reader.head, petition_id)
    if found is None:
        raise JsonRefusal(404, f"the log of {petition_id!r} has no signed head yet")
    return petition_id, found


def _head_json(petition_id: str, signed: SignedHead) -> dict[str, Any]:
    return {
        "petition_id": petition_id,
        "tree_size": signed.tree_size,
        "signatures": signed.signatures,
        "signed_at": signed.signed_at.isoformat(),
        "note": signed.note,
    }


async def head(request: web.Request) -> web.Response:
    petition_id, signed = await _signed_head(request)
    return web.json_response(_head_json(petition_id, signed))


def _number(request: web.Request, name: str, default: int | None = None) -> int:
    given = request.query.get(name)
    if given is None and default is not None:
        return default
    if given is None or not (given.isascii() and given.isdigit() and len(given) <= 12):
        raise JsonRefusal(400, f"?{name}= is a whole number of leaves")
    return int(given)


def _leaf_asked(request: web.Request) -> bytes:
    """The leaf of ``?leaf=`` (hex), or the addition of ``?commitment=`` (hex)."""
    try:
        if "leaf" in request.query:
            data = bytes.fromhex(request.query["leaf"])
            if len(data) == LEAF_SIZE:
                return data
        elif "commitment" in request.query:
            return leaf(LeafKind.ADDED, bytes.fromhex(request.query["commitment"]))
    except ValueError:
        pass
    raise JsonRefusal(400, f"?leaf= is {LEAF_SIZE} bytes in hex, or ?commitment= 32 bytes in hex")


async def _hashes(logs: Logs, petition_id: str, size: int) -> list[bytes]:
    hashes = await asyncio.to_thread(logs.hashes.first, petition_id, size)
    if hashes is None:
        raise JsonRefusal(503, "the log's leaves are still being stored; ask again shortly")
    return hashes


async def inclusion(request: web.Request) -> web.Response:
    """The audit path of a leaf in the newest signed head."""
    data = _leaf_asked(request)
    petition_id, signed = await _signed_head(request)
    logs = request.app[LOGS]
    index = await asyncio.to_thread(logs.reader.index_of, petition_id, data)
    if index is None:
        raise JsonRefusal(404, "no such leaf in the log")
    if index >= signed.tree_size:
        raise JsonRefusal(404, "the leaf is not under a signed head yet; ask again in seconds")
    hashes = await _hashes(logs, petition_id, signed.tree_size)
    proof = merkle.inclusion_proof(index, hashes)
    return web.json_response(
        {
            "leaf_index": index,
            "tree_size": signed.tree_size,
            "proof": [node.hex() for node in proof],
            "head": _head_json(petition_id, signed),
        }
    )


async def consistency(request: web.Request) -> web.Response:
    """The proof that the log at ``to`` (the newest signed head's size by default)
    extends the log at ``from``: nothing of the first ``from`` leaves changed."""
    petition_id, signed = await _signed_head(request)
    old, new = _number(request, "from"), _number(request, "to", signed.tree_size)
    if not 0 < old <= new <= signed.tree_size:
        raise JsonRefusal(400, f"0 < from <= to <= {signed.tree_size} (the newest signed head)")
    hashes = await _hashes(request.app[LOGS], petition_id, new)
    proof = merkle.consistency_proof(old, hashes)
    return web.json_response({"from": old, "to": new, "proof": [node.hex() for node in proof]})


async def leaves(request: web.Request) -> web.Response:
    """Leaves ``[start, end)`` in hex, at most ``MAX_LEAVES`` (fewer past the log's end)."""
    petition_id, _ = await _signed_head(request)
    start = _number(request, "start", 0)
    end = min(_number(request, "end", start + MAX_LEAVES), start + MAX_LEAVES)
    found = await asyncio.to_thread(request.app[LOGS].reader.leaves, petition_id, start, end)
    return web.json_response({"start": start, "leaves": [data.hex() for data in found]})
