"""What every connector record carries: how and when it arrived, and the people it names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    """How a record entered the platform."""

    CSV_IMPORT = "csv_import"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class Provenance:
    """Where the latest version of a record came from: the channel, its batch or delivery, and when."""

    channel: Channel
    received_at: datetime
    batch_id: str = ""
    delivery_id: str = ""

    def in_batch(self, batch_id: str) -> Provenance:
        """The same provenance, naming the import batch that carried the record."""
        return replace(self, batch_id=batch_id)


@dataclass(frozen=True)
class Person:
    """A person as a source identifies them: e-mail (normalised), the source's id and names."""

    email: str
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""

    def merged_over(self, stored: Person) -> Person:
        """This report of the person with its empty values filled from the stored one."""
        return Person(
            email=self.email or stored.email,
            external_id=self.external_id or stored.external_id,
            given_name=self.given_name or stored.given_name,
            family_name=self.family_name or stored.family_name,
        )
