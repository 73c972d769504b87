"""The dashboard's live feed and timeline over the real pipeline (worker, serve, the
real ClickHouse engine): what every viewer ends up seeing equals the truth."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime
from typing import Any

import aiohttp

from streams.core.settings import Settings
from streams.testing.dataset import dataset_with_truth
from streams.testing.processes import Results, WorkerProcess, prepare, produce
from streams.testing.reference import Truth
from streams.testing.sse import events_url, read_events
from tests.intake_client import request

PETITION = "syria-icc"
VIEWERS = 20


def expected_countries(truth: Truth) -> dict[str, int]:
    return {c: n for (p, _, c), n in truth.counts.items() if p == PETITION}


def expected_regions(truth: Truth) -> dict[str, int]:
    regions: Counter[str] = Counter()
    for (p, region, _), n in truth.counts.items():
        if p == PETITION:
            regions[region] += n
    return dict(regions)


def test_every_viewer_receives_counts_equal_to_the_truth(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(41, 3_000, settings)
    prepare(settings, petitions)
    # Every viewer is this machine: one client, whose streams sse_max_per_client caps.
    worker.extra_env["COUNTERSIGN_SSE_MAX_PER_CLIENT"] = str(2 * VIEWERS)
    worker.start()
    worker.wait_until_serving()
    base = f"http://127.0.0.1:{worker.web_port}"
    total = sum(expected_countries(truth).values())

    async def watch_while_signing() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            streams = [await session.get(events_url(base, PETITION)) for _ in range(VIEWERS)]

            async def until_total(response: aiohttp.ClientResponse) -> dict[str, Any]:
                last: dict[str, Any] = {}
                async for name, data in read_events(response):
                    if name == "counts":
                        last = data
                        if data["total"] == total:
                            break
                return last

            watching = [asyncio.create_task(until_total(r)) for r in streams]
            await asyncio.to_thread(produce, settings, events)
            done, _ = await asyncio.wait(watching, timeout=300)
            for response in streams:
                response.close()
            return [task.result() for task in done]

    seen = asyncio.run(watch_while_signing())
    assert len(seen) == VIEWERS, "some viewers never saw the total"
    for counts in seen:
        assert counts["total"] == total
        assert counts["by_country"] == expected_countries(truth)
        assert counts["by_region"] == expected_regions(truth)


def test_the_timeline_in_hours_and_days_sums_to_the_total_and_each_bucket_to_its_regions(
    settings: Settings, worker: WorkerProcess, results: Results
) -> None:
    events, petitions, truth = dataset_with_truth(43, 3_000, settings)
    prepare(settings, petitions)
    worker.start()
    produce(settings, events)
    results.wait_for(truth, timeout=300, worker=worker)
    base = f"http://127.0.0.1:{worker.web_port}/api/petitions/{PETITION}"
    total = sum(expected_countries(truth).values())
    deadline = time.monotonic() + 120
    while request(f"{base}/counts", method="GET").body.get("total") != total:
        assert time.monotonic() < deadline, "the sink never caught up"
        time.sleep(1)

    for bucket in ["minute", "hour", "day"]:
        timeline = request(f"{base}/timeline?minutes=527040&bucket={bucket}", method="GET").body
        assert timeline["bucket"] == bucket
        points = timeline["points"]
        assert sum(point["signatures"] for point in points) == total, bucket
        for point in points:
            assert sum(point["by_region"].values()) == point["signatures"] > 0
        by_region: Counter[str] = Counter()
        for point in points:
            by_region.update(point["by_region"])
        assert dict(by_region) == expected_regions(truth), bucket
        starts = [datetime.fromisoformat(point["at"]) for point in points]
        assert starts == sorted(set(starts)), bucket  # oldest first, one point a bucket
        assert all(point["at"].endswith("+00:00") for point in points), bucket
        if bucket != "minute":
            assert all(at.minute == 0 for at in starts), bucket
        if bucket == "day":
            assert all(at.hour == 0 for at in starts)
