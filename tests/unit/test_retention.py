"""When a petition's names go (``streams.rules.retention``; docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.catalogue.store import new_petition
from streams.core.errors import CatalogueError
from streams.rules.retention import RetentionState, export_warning, retention_of, shred_at

CLOSED = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_names_go_the_given_days_after_closing() -> None:
    assert shred_at(CLOSED, 30) == datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


def test_zero_days_means_at_closing() -> None:
    assert shred_at(CLOSED, 0) == CLOSED


@pytest.mark.parametrize(("closes_at", "days"), [(CLOSED, None), (None, 30), (None, None)])
def test_without_a_policy_or_a_closing_names_are_kept(
    closes_at: datetime | None, days: int | None
) -> None:
    assert retention_of("p", closes_at, days, CLOSED).state is RetentionState.KEPT


def test_a_petition_waits_until_the_last_second_before_its_names_are_due() -> None:
    just_before = datetime(2027, 3, 31, 11, 59, 59, tzinfo=UTC)
    assert retention_of("p", CLOSED, 30, just_before).state is RetentionState.WAITING
    assert retention_of("p", CLOSED, 30, shred_at(CLOSED, 30)).state is RetentionState.DUE


def test_export_is_quiet_more_than_a_week_before() -> None:
    assert export_warning(CLOSED, 30, datetime(2027, 3, 20, tzinfo=UTC)) is None


def test_export_warns_in_the_last_week_with_the_date() -> None:
    warning = export_warning(CLOSED, 30, datetime(2027, 3, 29, 12, 0, tzinfo=UTC))
    assert warning is not None
    assert "2027-03-31 12:00 UTC" in warning and "in 2.0 days" in warning


def test_export_says_when_the_names_already_went() -> None:
    warning = export_warning(CLOSED, 0, datetime(2027, 3, 2, tzinfo=UTC))
    assert warning is not None and "shredded" in warning


def test_an_export_of_a_petition_without_a_policy_never_warns() -> None:
    assert export_warning(CLOSED, None, CLOSED) is None


def test_a_petition_keeps_the_retention_it_is_given() -> None:
    petition = new_petition(
        "p",
        "t",
        opens_at=CLOSED.replace(month=1),
        closes_at=CLOSED,
        retain_names_days=30,
        now=CLOSED,
    )
    assert petition["retain_names_days"] == 30


@pytest.mark.parametrize("days", [-1, 3654])
def test_a_retention_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(CatalogueError, match="retain_names_days"):
        new_petition("p", "t", opens_at=CLOSED, retain_names_days=days, now=CLOSED)


def test_export_counts_the_last_day_in_hours() -> None:
    warning = export_warning(CLOSED, 0, datetime(2027, 3, 1, 7, 0, tzinfo=UTC))
    assert warning is not None and "in 5 hours" in warning
