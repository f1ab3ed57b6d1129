"""Where the gateway keeps people: machine clients registered with a person's e-mail (sealed with that
person's key; kept, anonymised, since a company's integration relies on them). Data-subject requests
name their subject too, their e-mail and export bundles sealed with the subject's key
(services/gateway/sealing.py): the erasure shreds that key (kit subjects.erase, through this map), keeps
each request as the proof it was answered, with the profile id and the e-mail's blind index but the
e-mail blanked, and drops the subject's earlier export bundles
(repository.SqlPrivacyRequestRepository.forget_subject)."""

from __future__ import annotations

from services.gateway.tables import oauth_clients
from services.kit.persistence.subjects import Holding, Person, Sealed, SubjectMap

# A client's e-mail is sealed with its person's key and found by its blind index (or, not sealed yet, plain).
_CLIENT = Person(email="email", email_index="email_index", owned=("email_index",))
MAP = SubjectMap(
    service="gateway",
    holdings=(
        Holding(
            oauth_clients,
            persons={"client": _CLIENT},
            key="client_id",
            keep_rows=True,
            sealed=Sealed(("email",), record="client_id", hidden=("email_index",)),
        ),
    ),
)
