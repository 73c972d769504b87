"""The mailer's loop: ``mail.outbox`` -> SMTP, committed only after the mails went out.

* **No mail is lost**: an offset is committed only after every mail before it was
  handed to the SMTP server. A batch goes out over ``mailer_connections`` connections
  at once; its offsets are stored in order, up to the first mail not sent. A server
  that does not take a mail is retried (with a growing pause) until it does or the
  mailer is stopped; nothing is committed past it.
* **A restart does not flood signers**: the mailer commits after every
  ``mailer_batch`` mails, so a crash (``kill -9``) sends at most that many again. The
  worker may ask twice for one mail (its own redelivery after a crash): each request
  names the submission that asked (``request_id``), and a request sent already is
  skipped. The mailer remembers what it sent, and on taking a partition it first
  reads back the ``LOOKBACK`` requests before the committed offset (sent, since
  committed), so a repeat is recognised across its own restarts too.
* **A re-sign cannot be used to bomb an inbox**: a ``resend`` goes out only after
  ``mail_resend_pause_seconds`` since the signer's last mail, and at most
  ``mail_resends_per_day`` a day; the history is kept on ``mail.history``, so it
  holds across restarts and mailers (``streams.mailer.history``).
* **No request stops the mail**: a request that cannot become a mail (unreadable,
  an address the email rule refuses, a mail the server refuses for good, an error
  nobody expected) is counted, written to ``mail.failed`` with its reason (the hash,
  never the address), its offset is stored like any other, and the mailer goes on.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from schemas.codec import codec
from schemas.sealed import open_personal
from streams.catalogue.follower import PetitionLookup
from streams.core import kafka
from streams.core.errors import (
    KeyErased,
    MailFailed,
    MailRefused,
    MalformedMessage,
    PublishFailed,
    SealBroken,
)
from streams.core.logs import without_addresses
from streams.core.logscan import LogRange, scan
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.core.topicspecs import MAIL_FAILED, OUTBOX
from streams.mailer.compose import Unmailable, compose
from streams.mailer.history import MailHistory, resend_refusal
from streams.mailer.smtp import SenderPool, SmtpSender
from streams.rules.keys import is_email_hash
from streams.signerkeys.store import SignerKeys

log = logging.getLogger(__name__)

#: How long the mailer waits at a time for its copy of keys.signers to catch up.
KEYS_FRESH_SECONDS = 5.0

#: Request ids remembered, to skip a request the worker sent twice.
REMEMBERED_REQUESTS = 100_000
#: Requests read back per partition when the mailer takes it: as far back as a
#: worker's redelivery can repeat one (its records since its last commit).
LOOKBACK = 10_000
#: The longest string a ``mail.failed`` record repeats of a request (ids, hashes).
MAX_FAILURE_FIELD = 200
#: The longest pause between two tries of a mail the server did not take.
MAX_RETRY_PAUSE_SECONDS = 30.0


@dataclass
class MailerStats:
    sent: int = 0
    repeats_skipped: int = 0
    resends_paused: int = 0
    #: Requests skipped and written to ``mail.failed``, by reason.
    failed: Counter[str] = field(default_factory=Counter)
    #: Tries the server did not take (each retried).
    retries: int = 0


@dataclass(frozen=True)
class Skipped:
    """A request that is not mailed, and why: written to ``mail.failed``."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Planned:
    """One outbox record and what becomes of it."""

    message: Message
    request: dict[str, Any] | None
    #: The mail to send; None when nothing goes out (a repeat, a paused resend, or
    #: ``skipped``).
    delivery: Future[Skipped | bool] | None = None
    skipped: Skipped | None = None


def _clipped(value: Any) -> Any:
    """A string of a hostile request cut to a size ``mail.failed`` always takes."""
    return value[:MAX_FAILURE_FIELD] if isinstance(value, str) else value


class Mailer:
    def __init__(
        self,
        settings: Settings,
        titles: Callable[[str], str | None],
        senders: SenderPool,
        keys: SignerKeys | None = None,
    ) -> None:
        self.settings = settings
        self.titles = titles
        self.senders = senders
        #: Opens the address of a sealed signature (docs/privacy.md); without it, such
        #: a request is skipped as "sealed".
        self.keys = keys
        self._stats_lock = threading.Lock()
        self.stats = MailerStats()
        #: Writes to mail.history and mail.failed that Kafka did not prove it took,
        #: since the last commit (``_commit`` refuses to commit past them).
        self.unwritten: list[str] = []
        self.producer = kafka.producer(settings, on_delivery=kafka.failures_into(self.unwritten))
        self.history = MailHistory(settings, self.producer)
        self.history.load()
        # Offsets are stored by hand, one per mail sent: a commit then covers exactly
        # the mails that went out, never one fetched but not sent (a stop mid-batch).
        self.consumer = kafka.consumer(
            settings, group_id=settings.group_id("mailer"), **{"enable.auto.offset.store": False}
        )
        self.consumer.subscribe([settings.topic(OUTBOX.name)], on_assign=self._read_back)
        self._requests: OrderedDict[str, None] = OrderedDict()
        self._codec = codec("ConfirmationMail")
        self._failure_codec = codec("MailFailure")

    def run(self, stop: threading.Event) -> None:
        log.info(
            "mailing confirmations from %s through %s",
            self.settings.topic(OUTBOX.name),
            self.senders,
        )
        try:
            while not stop.is_set():
                self.run_once(stop)
        finally:
            self.senders.close()
            self.consumer.close()
            self.history.close()
            self.producer.flush(10)
            log.info("stopped after %s", self.stats)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Send up to one batch of mails over the pool's connections at once, then
        commit the batch's longest prefix that went out; returns how many were sent."""
        stop = stop or threading.Event()
        messages = self.consumer.consume(self.settings.mailer_batch, timeout=0.5)
        self.history.refresh()
        plans = []
        for message in messages:
            if message.error():
                log.warning("outbox: %s", message.error())
                continue
            plans.append(self._plan(message, stop))
        sent_before = self.stats.sent
        done = 0
        for plan in plans:
            outcome: Skipped | bool | None = plan.skipped
            if plan.delivery is not None:
                outcome = plan.delivery.result()
                if outcome is False:
                    break  # stopping: nothing after an unsent mail is committed
            self._settle(plan, outcome)
            self.consumer.store_offsets(plan.message)
            done += 1
        for plan in plans[done:]:  # sent, but not committed: sent again later
            if plan.delivery is not None and plan.delivery.result() is True:
                self.stats.sent += 1
        if done:
            self._commit()
        return self.stats.sent - sent_before

    def _plan(self, message: Message, stop: threading.Event) -> Planned:
        """What to do with one request. Nothing in its content may raise out of here:
        what cannot be mailed becomes a ``Skipped``."""
        try:
            request = self._codec.decode(message.value() or b"")
        except MalformedMessage as exc:
            return Planned(message, None, skipped=Skipped("unreadable", exc.detail))
        if not is_email_hash(request["email_hash"]):  # it keys mail.history
            return Planned(message, None, skipped=Skipped("unreadable", "no email hash"))
        try:
            mail = self._mail_for(request)
        except Exception as exc:  # a request we did not foresee: recorded, never fatal
            log.exception("mail request at offset %s could not be composed", message.offset())
            return Planned(message, request, skipped=Skipped("failed", type(exc).__name__))
        if isinstance(mail, Unmailable):
            return Planned(message, request, skipped=Skipped(mail.reason, mail.detail))
        if mail is None:
            return Planned(message, request)
        work = partial(self._deliver, mail, stop)
        return Planned(message, request, delivery=self.senders.submit(work))

    def _mail_for(self, request: dict[str, Any]) -> EmailMessage | Unmailable | None:
        """The mail one request asks for, or None when it is not to be sent: sent
        already, or a resend inside the pause or past the day's cap. The request
        counts as sent from here on, so a resend later in the batch is judged on it."""
        if request["request_id"] in self._requests:
            self.stats.repeats_skipped += 1
            return None
        now = time.time()
        if request["kind"] == "resend":
            refusal = resend_refusal(
                self.history.get(request["email_hash"]),
                now,
                pause_seconds=self.settings.mail_resend_pause_seconds,
                per_day=self.settings.mail_resends_per_day,
            )
            if refusal is not None:
                self.stats.resends_paused += 1
                return None
        if request["email"] is None:
            opened = self._open(request)
            if isinstance(opened, Unmailable):
                return opened
            request = opened
        title = self.titles(request["petition_id"]) or request["petition_id"]
        mail = compose(self.settings, request, title)
        if not isinstance(mail, Unmailable):
            self._remember(request["request_id"])
            self.history.note(request["email_hash"], request["kind"], now)
        return mail

    def _open(self, request: dict[str, Any]) -> dict[str, Any] | Unmailable:
        """The request with the signer's sealed address and name opened, or why not:
        no keys here, or the key is gone (the signer was erased or withdrew: no mail)."""
        sealed, key_id = request.get("personal"), request.get("data_key_id")
        if self.keys is None or sealed is None or key_id is None:
            return Unmailable("sealed", "a sealed address and no key to open it")
        # The key was on Kafka before the signature was: this copy must hold
        # everything logged by the request's time before the key is called erased.
        self._until_fresh(request["requested_at"].timestamp())
        try:
            personal = open_personal(
                self.keys.data_key(request["petition_id"], key_id),
                sealed,
                request["petition_id"],
                request["signature_id"],
            )
        except KeyErased:
            return Unmailable("erased", "the signer's data key is erased")
        except SealBroken as exc:
            return Unmailable("sealed", exc.args[0])
        return {**request, "email": personal["email"], "full_name": personal["full_name"]}

    def _until_fresh(self, logged_at: float) -> None:
        """Wait until the copy of keys.signers holds everything logged by then: a
        lagging copy must not make a key look erased (its mail would be dropped)."""
        assert self.keys is not None
        while not self.keys.ensure_fresh(logged_at, timeout=KEYS_FRESH_SECONDS):
            log.warning(
                "keys.signers copy not fresh after %.0f s; waiting to open sealed addresses",
                KEYS_FRESH_SECONDS,
            )
            time.sleep(1)  # at once when the copy is not followed: not a busy loop

    def _deliver(
        self, mail: EmailMessage, stop: threading.Event, sender: SmtpSender
    ) -> Skipped | bool:
        """Hand one mail to the server, trying again until it takes it (on a thread of
        the pool): True once sent, a ``Skipped`` when it can never go, False only when
        stopped before it went out."""
        pause = 1.0
        while True:
            try:
                sender.send(mail)
                return True
            except MailRefused as exc:  # for good: retrying would stall every mail after it
                return Skipped("refused", str(exc))
            except MailFailed as exc:
                with self._stats_lock:
                    self.stats.retries += 1
                log.warning("%s; trying again in %.0f s", exc, pause)
                if stop.wait(pause):
                    return False
                pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)
            except Exception as exc:  # smtplib or the email package on a mail we built
                log.exception("mail %s could not be sent", mail["X-Countersign-Request"])
                return Skipped("failed", type(exc).__name__)

    def _settle(self, plan: Planned, outcome: Skipped | bool | None) -> None:
        """Count what became of one request; a skipped one goes to ``mail.failed``."""
        if outcome is True:
            self.stats.sent += 1
            if self.stats.sent % 1000 == 0:
                log.info("%d confirmation mails sent", self.stats.sent)
        elif isinstance(outcome, Skipped):
            self.stats.failed[outcome.reason] += 1
            self._record_failure(plan, outcome)

    def _record_failure(self, plan: Planned, skipped: Skipped) -> None:
        request = {name: _clipped(value) for name, value in (plan.request or {}).items()}
        log.error(
            "mail request at %s/%s skipped (%s): %s",
            plan.message.partition(),
            plan.message.offset(),
            skipped.reason,
            skipped.detail,
        )
        value = self._failure_codec.encode(
            {
                "reason": skipped.reason,
                # A mail server's refusal quotes the address: kept on Kafka without it.
                "detail": _clipped(without_addresses(skipped.detail)),
                "request_id": request.get("request_id"),
                "kind": request.get("kind"),
                "petition_id": request.get("petition_id"),
                "email_hash": request.get("email_hash"),
                "outbox_partition": plan.message.partition(),
                "outbox_offset": plan.message.offset(),
                "failed_at": datetime.now(UTC),
            }
        )
        key = (plan.message.key() or b"")[:MAX_FAILURE_FIELD]
        try:
            kafka.produce_waiting(self.producer, self.settings.topic(MAIL_FAILED.name), value, key)
        except KafkaException as exc:  # counted above; the record is not worth a stop
            log.error("could not record the skipped request on mail.failed: %s", exc)

    def _commit(self) -> None:
        """The history and the failures written, then the outbox committed: nothing
        committed may be missing from either."""
        if self.producer.flush(30) != 0:
            raise PublishFailed("mail.history / mail.failed were not acknowledged in 30 s")
        if self.unwritten:
            raise PublishFailed(
                f"Kafka did not take mail.history / mail.failed: {self.unwritten[0]}"
            )
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as exc:  # a rebalance took the partitions: sent again
            log.warning("could not commit the mails just sent: %s", exc)

    def _read_back(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Remember the requests just before the committed offsets: they were sent."""
        committed = consumer.committed(partitions, timeout=10)
        ranges = {}
        for tp in committed:
            if tp.offset >= 0:
                low, _ = kafka.watermarks(consumer, tp, 10)
                ranges[tp.partition] = (max(low, tp.offset - LOOKBACK), tp.offset)
        log_range = LogRange(self.settings.topic(OUTBOX.name), ranges)
        before = len(self._requests)
        for record in scan(self.settings, log_range):
            try:
                request_id = self._codec.decode(record.value or b"")["request_id"]
            except MalformedMessage:
                continue
            self._requests[request_id] = None
        log.info(
            "took %d outbox partitions; %d requests before their commits remembered as sent",
            len(partitions),
            len(self._requests) - before,
        )

    def _remember(self, request_id: str) -> None:
        self._requests[request_id] = None
        if len(self._requests) > REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)


def run_mailer(settings: Settings) -> None:
    """Follow the catalogue (for titles) and mail until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    create_topics(settings)  # mail.failed and mail.history, on a cluster older than them
    petitions = PetitionLookup(settings)
    petitions.start()
    keys = SignerKeys(settings)
    keys.start()
    try:

        def title(petition_id: str) -> str | None:
            petition = petitions.get(petition_id)
            return None if petition is None else str(petition["title"])

        senders = SenderPool(settings.smtp_url.get_secret_value(), settings.mailer_connections)
        Mailer(settings, title, senders, keys).run(stop)
    finally:
        keys.stop()
        petitions.stop()
