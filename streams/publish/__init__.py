"""Publish sign events to Kafka from Python: the library behind the HTTP intake.

    from streams.publish import Publisher, Signature

    with Publisher(settings) as publisher:
        receipt = publisher.publish(Signature(petition_id="syria-icc", full_name="Ana Silva",
                                              email="ana@example.org", country="BR"))

``publish`` returns only after Kafka acknowledged the event on every in-sync replica
(``acks=all``, idempotent producer); ``AsyncPublisher`` does the same for asyncio code.
"""

from streams.publish.publisher import AsyncPublisher, Publisher, Receipt
from streams.publish.signature import Signature

__all__ = ["AsyncPublisher", "Publisher", "Receipt", "Signature"]
