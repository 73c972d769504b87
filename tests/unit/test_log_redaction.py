"""Addresses, confirmation tokens and secrets never reach a log line, whoever logs
them, tracebacks of unexpected errors included."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.core.logs import install_redaction, without_addresses
from streams.intake.server import observe

SECRET = "a-signing-key-of-our-own-32-byte"
TOKEN = "WyJmcmVlLXByZXNzIiwiYWIiXQ.Z1x2Yw.k3Jd-8fQ_sig"


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """What a handler on the root logger writes, with redaction installed."""
    factory = logging.getLogRecordFactory()
    install_redaction([SECRET])
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.setLogRecordFactory(factory)


def test_an_address_in_a_message_is_hidden(log_text: io.StringIO) -> None:
    logging.getLogger("any.module").warning("mail to %s failed", "Layla.H+x@example.org")
    assert "Layla" not in log_text.getvalue()
    assert "mail to <address> failed" in log_text.getvalue()


def test_a_confirmation_token_in_a_path_is_hidden(log_text: io.StringIO) -> None:
    logging.getLogger("aiohttp.access").info("GET /confirm/%s 200", TOKEN)
    assert TOKEN not in log_text.getvalue()
    assert "/confirm/<token>" in log_text.getvalue()


def test_a_secret_is_hidden(log_text: io.StringIO) -> None:
    logging.getLogger("any.module").error("key=%s", SECRET)
    assert SECRET not in log_text.getvalue()


def test_a_traceback_quoting_an_address_is_hidden(log_text: io.StringIO) -> None:
    try:
        raise ValueError("cannot mail evil@example.org")
    except ValueError:
        logging.getLogger("any.module").exception("unexpected")
    assert "evil@example.org" not in log_text.getvalue()
    assert "ValueError: cannot mail <address>" in log_text.getvalue()


def test_the_intakes_unexpected_error_log_names_the_route_not_the_token(
    log_text: io.StringIO,
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def follow() -> int:
        app = web.Application(middlewares=[observe])
        app.router.add_get("/confirm/{token}", broken)
        async with TestClient(TestServer(app)) as client:
            response = await client.get(f"/confirm/{TOKEN}")
            return response.status

    assert asyncio.run(follow()) == 500
    assert "bug: GET /confirm/{token}" in log_text.getvalue()
    assert TOKEN not in log_text.getvalue()


def test_a_record_keeps_its_template_and_arguments(log_text: io.StringIO) -> None:
    # Faust's handlers format some records from msg and args themselves: replacing
    # them with the formatted text once made every such line a logging error.
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("any.module")
    logger.addHandler(handler)
    try:
        logger.warning("created topic %s for %s", "t.signatures", "ana@example.org")
    finally:
        logger.removeHandler(handler)
    [record] = records
    assert record.msg % record.args == "created topic t.signatures for ana@example.org"
    assert record.getMessage() == "created topic t.signatures for <address>"


def test_a_mail_servers_refusal_is_kept_on_kafka_without_the_address() -> None:
    refusal = "550 5.1.1 <Bob.Smith+petitions@example.org>: Recipient address rejected"
    assert without_addresses(refusal) == "550 5.1.1 <<address>>: Recipient address rejected"
