"""The one logging setup; every module logs through ``logging.getLogger(__name__)``.

Logs are read by more people than the data is, and kept longer: no address, link
token or secret may reach them, whoever logged it (our code, a library, a traceback
that quotes a value). ``install_redaction`` makes that a property of every log
record, in every process: the record factory rewrites the message and the traceback
before any handler (ours, Faust's, pytest's) sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: What an address looks like in free text (no spaces or mail specials around the @).
_ADDRESS = re.compile(r"[^\s@<>()\[\]:;,\"'=/]+@[^\s@<>()\[\]:;,\"'=/]+\.[^\s@<>()\[\]:;,\"'=/.]+")
#: A confirmation link's token, in a path or a URL.
_CONFIRM_TOKEN = re.compile(r"(/confirm/)[^\s/?#\"'{]+")
HIDDEN_ADDRESS = "<address>"
HIDDEN_TOKEN = r"\1<token>"
HIDDEN_SECRET = "***"


class Redactor:
    """Replaces addresses, confirmation tokens and the given secrets in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN_SECRET)
        text = _CONFIRM_TOKEN.sub(HIDDEN_TOKEN, text)
        return without_addresses(text)


def without_addresses(text: str) -> str:
    """``text`` with every email address replaced by ``<address>``: for what is
    written to a topic (a mail server's refusal quotes the address it refused)."""
    return _ADDRESS.sub(HIDDEN_ADDRESS, text)


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """From now on every log record of this process is redacted at its creation."""
    redact = Redactor(secrets)
    make_record = logging.getLogRecordFactory()
    base = getattr(make_record, "redacting_base", make_record)  # installed twice: one layer

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        # The message is redacted when a handler asks for it; msg and args stay as
        # they are (Faust's handlers format some records themselves from them).
        plain = record.getMessage
        record.getMessage = lambda: redact(plain())  # type: ignore[method-assign]
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    redacted_record.redacting_base = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacted_record)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once, for commands that do not run Faust's worker
    (which installs its own handlers), and redact every record."""
    install_redaction(secrets)
    logging.basicConfig(level=level, format=_FORMAT)
    # librdkafka and aiokafka are chatty at INFO; their warnings still come through.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
