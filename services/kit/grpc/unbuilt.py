"""RPCs the contracts declare but whose behaviour is not built yet.

A servicer names each one explicitly (`ExportSubjectData = NotBuilt("privacy export")`) instead of
inheriting the generated stub's answer, so the class is complete for the type checker, the answer is
the kit's typed UNIMPLEMENTED status (501 at the edge), and the OpenAPI generator lists exactly these
operations as not built.
"""

from __future__ import annotations

from typing import NoReturn

from services.kit.errors import Unimplemented


class NotBuilt:
    """A servicer method that answers UNIMPLEMENTED, naming what is not built."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __call__(self, request: object, context: object) -> NoReturn:
        raise Unimplemented(f"{self.what} is not built yet", metadata={"feature": self.what})


def is_not_built(method: object) -> bool:
    """Whether a servicer attribute is a `NotBuilt` placeholder."""
    return isinstance(method, NotBuilt)
