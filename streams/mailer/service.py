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
* **A re-sign cannot be used to bomb an inbox**: a ``resend`` for a signer who was
  mailed less than ``mail_resend_pause_seconds`` ago is skipped.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from schemas.codec import codec
from streams.core import kafka
from streams.core.catalogue_follower import PetitionLookup
from streams.core.errors import MailFailed, MailRefused, MalformedMessage
from streams.core.logscan import LogRange, scan
from streams.core.settings import Settings
from streams.core.topics import OUTBOX
from streams.mailer.compose import compose
from streams.mailer.smtp import SenderPool, SmtpSender

log = logging.getLogger(__name__)

#: Request ids remembered, to skip a request the worker sent twice.
REMEMBERED_REQUESTS = 100_000
#: Requests read back per partition when the mailer takes it: as far back as a
#: worker's redelivery can repeat one (its records since its last commit).
LOOKBACK = 10_000
#: The longest pause between two tries of a mail the server did not take.
MAX_RETRY_PAUSE_SECONDS = 30.0


@dataclass
class MailerStats:
    sent: int = 0
    repeats_skipped: int = 0
    resends_paused: int = 0
    unreadable: int = 0
    failures: int = 0
    undeliverable: int = 0


class Mailer:
    def __init__(
        self, settings: Settings, titles: Callable[[str], str | None], senders: SenderPool
    ) -> None:
        self.settings = settings
        self.titles = titles
        self.senders = senders
        self._stats_lock = threading.Lock()
        self.stats = MailerStats()
        # Offsets are stored by hand, one per mail sent: a commit then covers exactly
        # the mails that went out, never one fetched but not sent (a stop mid-batch).
        self.consumer = kafka.consumer(
            settings, group_id=settings.group_id("mailer"), **{"enable.auto.offset.store": False}
        )
        self.consumer.subscribe([settings.topic(OUTBOX.name)], on_assign=self._read_back)
        self._requests: OrderedDict[str, None] = OrderedDict()
        self._mailed_at: dict[str, float] = {}
        self._codec = codec("ConfirmationMail")

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
            log.info("stopped after %s", self.stats)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Send up to one batch of mails over the pool's connections at once, then
        commit the batch's longest prefix that went out; returns how many were sent."""
        stop = stop or threading.Event()
        messages = self.consumer.consume(self.settings.mailer_batch, timeout=0.5)
        deliveries: list[tuple[Message, Future[bool] | None]] = []
        for message in messages:
            if message.error():
                log.warning("outbox: %s", message.error())
                continue
            mail = self._mail_for(message)
            if mail is None:
                deliveries.append((message, None))
            else:
                deliveries.append(
                    (message, self.senders.submit(partial(self._deliver, mail, stop)))
                )
        sent_before = self.stats.sent
        done = 0
        for message, delivery in deliveries:
            if delivery is not None:
                if not delivery.result():
                    break  # stopping: nothing after an unsent mail is committed
                self.stats.sent += 1
                if self.stats.sent % 1000 == 0:
                    log.info("%d confirmation mails sent", self.stats.sent)
            self.consumer.store_offsets(message)
            done += 1
        for _, unstored in deliveries[done:]:  # sent, but not committed: sent again later
            if unstored is not None and unstored.result():
                self.stats.sent += 1
        if done:
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as exc:  # a rebalance took the partitions: sent again
                log.warning("could not commit the mails just sent: %s", exc)
        return self.stats.sent - sent_before

    def _mail_for(self, message: Message) -> EmailMessage | None:
        """The mail one request asks for, or None when it is not to be sent: unreadable,
        sent already, or a resend inside the pause. The request counts as sent from here
        on, so a resend later in the same batch is paused too."""
        try:
            request = self._codec.decode(message.value() or b"")
        except MalformedMessage as exc:
            self.stats.unreadable += 1
            log.error("unreadable mail request at offset %s: %s", message.offset(), exc.detail)
            return None
        if request["request_id"] in self._requests:
            self.stats.repeats_skipped += 1
            return None
        signer = f"{request['petition_id']}:{request['email_hash']}"
        now = time.monotonic()
        pause_left = self.settings.mail_resend_pause_seconds - (
            now - self._mailed_at.get(signer, -1e9)
        )
        if request["kind"] == "resend" and pause_left > 0:
            self.stats.resends_paused += 1
            return None
        title = self.titles(request["petition_id"]) or request["petition_id"]
        self._remember(request["request_id"], signer, now)
        return compose(self.settings, request, title)

    def _deliver(self, mail: EmailMessage, stop: threading.Event, sender: SmtpSender) -> bool:
        """Hand one mail to the server, trying again until it takes it (on a thread of
        the pool); False only when stopped before it went out."""
        pause = 1.0
        while True:
            try:
                sender.send(mail)
                return True
            except MailRefused as exc:  # for good: retrying would stall every mail after it
                with self._stats_lock:
                    self.stats.undeliverable += 1
                log.error("%s; request %s skipped", exc, mail["X-Countersign-Request"])
                return True
            except MailFailed as exc:
                with self._stats_lock:
                    self.stats.failures += 1
                log.warning("%s; trying again in %.0f s", exc, pause)
                if stop.wait(pause):
                    return False
                pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)

    def _read_back(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Remember the requests just before the committed offsets: they were sent."""
        committed = consumer.committed(partitions, timeout=10)
        ranges = {}
        for tp in committed:
            if tp.offset >= 0:
                low, _ = consumer.get_watermark_offsets(tp, timeout=10)
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

    def _remember(self, request_id: str, signer: str, now: float) -> None:
        self._requests[request_id] = None
        if len(self._requests) > REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        self._mailed_at[signer] = now
        if len(self._mailed_at) > REMEMBERED_REQUESTS:
            cutoff = now - self.settings.mail_resend_pause_seconds
            self._mailed_at = {k: t for k, t in self._mailed_at.items() if t > cutoff}


def run_mailer(settings: Settings) -> None:
    """Follow the catalogue (for titles) and mail until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    petitions = PetitionLookup(settings)
    petitions.start()
    try:

        def title(petition_id: str) -> str | None:
            petition = petitions.get(petition_id)
            return None if petition is None else str(petition["title"])

        senders = SenderPool(settings.smtp_url.get_secret_value(), settings.mailer_connections)
        Mailer(settings, title, senders).run(stop)
    finally:
        petitions.stop()
