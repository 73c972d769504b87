"""The retention job: shreds every data key of a petition whose ``retain_names_days``
have passed since it closed (docs/privacy.md, "Retention"); its counts stay.

``countersign serve`` runs it every ``retention_check_seconds`` in a thread of its
own; ``countersign retention`` runs it now, or with ``--dry-run`` lists what would
go. A run is idempotent: it erases whatever keys a due petition still has (a key
made after the last run, by a late submission, goes at the next), and records each
erasure on privacy.erasures with the reason ``retention``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.core.errors import CountersignError
from streams.core.periodic import Every
from streams.rules.retention import Retention, RetentionState, retention_of
from streams.signerkeys.erasure import Erased, Eraser

log = logging.getLogger(__name__)

#: At most this many keys per erasure record (each names its keys; a record stays
#: far below Kafka's 1 MB message limit).
KEYS_PER_ERASURE = 2_000
#: Who ``privacy.erasures`` says asked, when the schedule did.
REQUESTED_BY = "retention"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Planned:
    """One petition with a retention policy, and how many keys it still holds."""

    retention: Retention
    keys: int

    def as_json(self) -> dict[str, Any]:
        shred_at = self.retention.shred_at
        return {
            "petition_id": self.retention.petition_id,
            "shred_at": shred_at.isoformat(timespec="seconds") if shred_at else None,
            "state": str(self.retention.state),
            "keys": self.keys,
        }


class RetentionJob:
    """Plans and runs retention over a catalogue (``petitions()``, the petition
    records by id) with one ``Eraser``; ``clock`` is the wall clock unless a test
    gives another."""

    def __init__(
        self,
        petitions: Callable[[], Mapping[str, Mapping[str, Any]]],
        eraser: Eraser,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.petitions = petitions
        self.eraser = eraser
        self.clock = clock or (lambda: datetime.now(UTC))

    def plan(self) -> list[Planned]:
        """Every petition with a retention policy, by shred time (an open one has
        none yet: its state is ``kept``); its keys are counted on a copy of
        keys.signers holding everything written before now."""
        self.eraser.ensure_fresh()
        now = self.clock()
        keyring = self.eraser.keys.keyring
        planned = []
        for petition_id, petition in self.petitions().items():
            days = petition.get("retain_names_days")
            if days is None:
                continue
            retention = retention_of(petition_id, petition["closes_at"], days, now)
            planned.append(Planned(retention, len(keyring.keys_of_petition(petition_id))))
        # Those that go first, first; open petitions (no date yet) last.
        return sorted(
            planned,
            key=lambda p: (
                p.retention.shred_at is None,
                p.retention.shred_at or now,
                p.retention.petition_id,
            ),
        )

    def run(self, requested_by: str = REQUESTED_BY) -> list[Erased]:
        """Shred the keys of every due petition; the erasures made (none: nothing due
        had keys left). ``requested_by``: the schedule, or whoever ran it by hand."""
        erasures: list[Erased] = []
        for planned in self.plan():
            if planned.retention.state is not RetentionState.DUE or not planned.keys:
                continue
            petition_id = planned.retention.petition_id
            keys = self.eraser.keys.keyring.keys_of_petition(petition_id)
            detail = f"retain_names_days passed on {planned.retention.shred_at:%Y-%m-%d %H:%M} UTC"
            for start in range(0, len(keys), KEYS_PER_ERASURE):
                erasures.append(
                    self.eraser.erase_keys(
                        keys[start : start + KEYS_PER_ERASURE],
                        petition_id=petition_id,
                        reason="retention",
                        requested_by=requested_by,
                        detail=detail,
                    )
                )
            log.info(
                "retention: %s's %d keys shredded (%s); its counts stay",
                petition_id,
                len(keys),
                detail,
            )
        return erasures


class RetentionSchedule(Every):
    """Runs a ``RetentionJob`` every ``interval`` seconds in a daemon thread until
    stopped; a failed run (Kafka away) is logged and tried again at the next."""

    def __init__(self, job: RetentionJob, interval: float) -> None:
        super().__init__(
            "retention",
            interval,
            job.run,
            survives=(CountersignError,),
            failed="retention run failed ({error}); trying again in {interval:.0f} s",
            join_seconds=30.0,
        )
        self.job = job
