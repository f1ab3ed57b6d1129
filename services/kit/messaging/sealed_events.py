"""Personal data inside event payloads, sealed with per-person keys of one key store every service opens.

An event names people with `teei.common.v1.PersonRef`: its `email`, `external_id`, `given_name` and
`family_name` are sealed with that person's data key (subject: the profile id, else the one derived from
company and e-mail, else `xid:<blind index of the external id>`; nobody identifiable: the company's key).
A string field annotated `[(teei.common.v1.sealed_with) = "participant"]` is sealed with the key of the
person(s) it names (access.proto says how the names resolve). `profile_id` stays plain: it is the
pseudonymous routing id the stream scrub matches. The associated data of every sealed value is the payload
type, the field's path and the event id, so a value moved onto another field or event does not open.

The keys live in one key store shared by every service (`TEEI_EVENTS_KEYSTORE_URL`, default
`var/keystore/events.db`), apart from every database and never in a backup: shredding a person's key makes
their fields unreadable in outbox rows, in the JetStream streams and in every backup taken before.
Messages are walked by descriptor reflection: no code per event type. See docs/privacy/encryption.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from google.protobuf import descriptor, message

from services.kit.config import ConfigError, ServiceConfig
from services.kit.identity import profile_id_for_email
from services.kit.logs import get_logger
from services.kit.security import pii
from services.kit.security.pii import PiiCipher, SubjectErased, is_sealed
from services.kit.security.pii.keystore import DataKey, SubjectKeys, keystore_url
from teei.common.v1 import access_pb2, types_pb2

__all__ = [
    "COMPANY_SUBJECT",
    "KEYSTORE",
    "SealedPayloadRefused",
    "SubjectErased",
    "cipher_for",
    "external_subject",
    "install",
    "installed",
    "open_payload",
    "seal_payload",
    "seal_payloads",
    "shred_subject",
    "uninstall",
]

log = get_logger(__name__)
# The key store's name under var/keystore/ (and in `{service}` of a configured URL).
KEYSTORE = "events"
PERSON = types_pb2.PersonRef.DESCRIPTOR.full_name
PERSON_FIELDS = ("email", "external_id", "given_name", "family_name")
# The company's own key: what seals text no single person can be named for (no erasure destroys it).
COMPANY_SUBJECT = ""
COMPANY = "@company"
# Blind-index kind of a source's id for a person known by nothing else.
EXTERNAL_INDEX = "external_id"
# A value sealed with several people's keys has one layer per person; more than this is not a sealed value.
MAX_LAYERS = 64


class SealedPayloadRefused(RuntimeError):
    """A payload holds sealed fields but this process has no events cipher: its handler must never see
    ciphertext in place of the person's data."""


_cipher: PiiCipher | None = None


def install(cipher: PiiCipher) -> None:
    """Seals the events this process records, and opens those it consumes, with `cipher` (once per process)."""
    global _cipher  # noqa: PLW0603 - one events cipher per process, installed at start-up
    _cipher = cipher


def uninstall() -> PiiCipher | None:
    """Removes the process's events cipher (tests, shutdown); the one removed."""
    global _cipher
    removed, _cipher = _cipher, None
    return removed


def installed() -> PiiCipher | None:
    """The process's events cipher, if any."""
    return _cipher


def cipher_for(config: ServiceConfig) -> PiiCipher:
    """The events cipher of a configuration: TEEI_EVENTS_KEYSTORE_URL, else var/keystore/events.db (one
    file every service of a `teei up` mesh opens); refused when key stores are required and none is set."""
    if config.pii_keystore_required and not config.events_keystore_url:
        raise ConfigError("TEEI_PII_KEYSTORE_REQUIRED: set TEEI_EVENTS_KEYSTORE_URL (the shared events key store)")
    url = keystore_url(config.var_dir, KEYSTORE, config.events_keystore_url)
    return PiiCipher(SubjectKeys.open(url, pii.keyring_source(config)))


def external_subject(cipher: PiiCipher, company_id: str, external_id: str) -> str:
    """The key subject of a person named only by a source's id."""
    return "xid:" + cipher.blind(company_id, EXTERNAL_INDEX, external_id)


def shred_subject(company_id: str, profile_id: str = "", *, email: str = "", external_ids: Iterable[str] = ()) -> int:
    """Destroys the person's events keys (erasure): every event field sealed for them — in outbox rows, the
    streams and every backup — is unreadable from now on. The person is named by profile id and/or e-mail
    (whose derived profile id is the key's subject), and any source ids they were known by alone. The number
    of keys destroyed; 0 without a cipher."""
    cipher = _cipher
    if cipher is None:
        log.warning("events.shred_without_cipher")
        return 0
    subjects = [profile_id, profile_id_for_email(company_id, email) if email else ""]
    subjects += [external_subject(cipher, company_id, x) for x in external_ids if x]
    destroyed = sum(cipher.shred(company_id, s) for s in dict.fromkeys(subjects) if s)
    log.info("events.subject_keys_shredded", company_id=company_id, keys=destroyed)
    return destroyed


@dataclass
class _Slot:
    """One string value to seal or open: the field `name` of `owner` (at `index` when repeated) and its key
    subjects."""

    owner: message.Message
    name: str
    index: int | None
    path: str
    subjects: tuple[str, ...] = ()

    def get(self) -> str:
        value = getattr(self.owner, self.name)
        return str(value[self.index] if self.index is not None else value)

    def set(self, value: str) -> None:
        if self.index is not None:
            getattr(self.owner, self.name)[self.index] = value
        else:
            setattr(self.owner, self.name, value)


def seal_payload(payload: message.Message, *, company_id: str, record: str, cipher: PiiCipher | None = None) -> bool:
    """Seals the payload's personal fields in place; whether any was sealed."""
    return bool(seal_payloads([(payload, company_id, record)], cipher=cipher))


def seal_payloads(batch: Sequence[tuple[message.Message, str, str]], *, cipher: PiiCipher | None = None) -> int:
    """Seals many payloads (payload, company, event id) in place, the missing data keys of each company
    created in one key-store transaction; the number of values sealed. Values already sealed are left."""
    cipher = cipher or _cipher
    if cipher is None:
        raise RuntimeError("no events cipher is installed")
    planned: list[tuple[str, str, _Slot]] = []
    wanted: dict[str, set[str]] = {}
    for payload, company_id, record in batch:
        for slot in _slots(payload, company_id, cipher):
            if slot.get() and not is_sealed(slot.get()):
                planned.append((company_id, record, slot))
                wanted.setdefault(company_id, set()).update(slot.subjects)
    keys: dict[str, dict[str, DataKey]] = {c: cipher.keys.keys_for(c, s) for c, s in wanted.items()}
    for company_id, record, slot in planned:
        value, field = slot.get(), slot.path
        for subject in slot.subjects:
            value = cipher.seal(
                value, company_id=company_id, subject=subject, field=field, record=record, keys=keys[company_id]
            )
        slot.set(value)
    return len(planned)


def open_payload(payload: message.Message, *, record: str, cipher: PiiCipher | None = None) -> int:
    """Opens the payload's sealed fields in place (plain values of events recorded before sealing pass
    through); the number opened. SubjectErased when a person's key was destroyed; SealedPayloadRefused when
    a value is sealed and no cipher is installed."""
    cipher = cipher or _cipher
    opened = 0
    for slot in _slots(payload, "", None):
        value = slot.get()
        if not is_sealed(value):
            continue
        if cipher is None:
            raise SealedPayloadRefused(
                f"{payload.DESCRIPTOR.full_name} holds sealed fields and no events cipher is installed"
            )
        for _ in range(MAX_LAYERS):
            value = cipher.open(value, field=slot.path, record=record)
            if not is_sealed(value):
                break
        slot.set(value)
        opened += 1
    return opened


def _slots(payload: message.Message, company_id: str, cipher: PiiCipher | None) -> list[_Slot]:
    """Every personal string value of the payload, with its key subjects resolved from the plain values
    (only when `cipher` is given: sealing). Collected before anything changes, so subjects come from plain
    e-mails and ids."""
    sealing = _Sealing(company_id, cipher, [])
    _collect(payload, payload.DESCRIPTOR.full_name, (payload,), sealing)
    return sealing.found


def _collect(msg: message.Message, path: str, chain: tuple[message.Message, ...], sealing: _Sealing) -> None:
    if msg.DESCRIPTOR.full_name == PERSON:
        own: tuple[str, ...] = (sealing.person(msg),) if sealing.cipher is not None else ()
        sealing.found.extend(_Slot(msg, name, None, f"{path}.{name}", own) for name in PERSON_FIELDS)
        return
    for field in _walked(cast(descriptor.Descriptor, msg.DESCRIPTOR)):
        name, value = field.name, getattr(msg, field.name)
        if field.nested:
            if isinstance(value, message.Message):
                if msg.HasField(name):
                    _collect(value, f"{path}.{name}", (*chain, value), sealing)
            else:
                for i, item in enumerate(value):
                    _collect(item, f"{path}.{name}[{i}]", (*chain, item), sealing)
            continue
        subjects = sealing.named(field.names, chain) if sealing.cipher is not None else ()
        if isinstance(value, str):
            sealing.found.append(_Slot(msg, name, None, f"{path}.{name}", subjects))
        else:
            sealing.found.extend(_Slot(msg, name, i, f"{path}.{name}[{i}]", subjects) for i in range(len(value)))


@dataclass(frozen=True)
class _Walked:
    """A field the walk visits: a message (or list of them) that can hold personal text, or a string
    annotated `sealed_with` (`names`)."""

    name: str
    nested: bool
    names: str = ""


_WALKS: dict[str, tuple[_Walked, ...]] = {}


def _walked(kind: descriptor.Descriptor) -> tuple[_Walked, ...]:
    """The fields of a message type the walk visits, in declaration order, read from its descriptor once
    per process: reading field options on every event was most of the cost of sealing an import's events."""
    found = _WALKS.get(kind.full_name)
    if found is None:
        found = _WALKS[kind.full_name] = tuple(_walked_fields(kind))
    return found


def _walked_fields(kind: descriptor.Descriptor) -> Iterable[_Walked]:
    for field in kind.fields:
        nested = field.message_type
        if nested is not None:
            # Maps carry no annotated text in any event; types that hold none (timestamps, provenance) are skipped.
            if not nested.GetOptions().map_entry and _holds_personal(nested, set()):
                yield _Walked(field.name, nested=True)
            continue
        if names := _sealed_with(field):
            yield _Walked(field.name, nested=False, names=names)


def _holds_personal(kind: descriptor.Descriptor, seen: set[str]) -> bool:
    """Whether a message of this type can hold a PersonRef or an annotated string, at any depth."""
    if kind.full_name == PERSON:
        return True
    seen.add(kind.full_name)
    for field in kind.fields:
        nested = field.message_type
        if nested is None:
            if (
                field.GetOptions().Extensions[access_pb2.sealed_with]
                and field.type == descriptor.FieldDescriptor.TYPE_STRING
            ):
                return True
        elif not nested.GetOptions().map_entry and nested.full_name not in seen and _holds_personal(nested, seen):
            return True
    return False


def _sealed_with(field: descriptor.FieldDescriptor) -> str:
    """The people a string field is sealed with (its `sealed_with` annotation); "" for any other field."""
    names = field.GetOptions().Extensions[access_pb2.sealed_with]
    return str(names) if names and field.type == descriptor.FieldDescriptor.TYPE_STRING else ""


@dataclass
class _Sealing:
    """What a walk collects, and how it names key subjects (only when sealing: `cipher` set)."""

    company_id: str
    cipher: PiiCipher | None
    found: list[_Slot]

    def person(self, person: message.Message) -> str:
        ref = cast(types_pb2.PersonRef, person)
        if ref.profile_id:
            return ref.profile_id
        if ref.email and not is_sealed(ref.email):
            return profile_id_for_email(self.company_id, ref.email)
        if ref.external_id and not is_sealed(ref.external_id) and self.cipher is not None:
            return external_subject(self.cipher, self.company_id, ref.external_id)
        return COMPANY_SUBJECT

    def named(self, names: str, chain: tuple[message.Message, ...]) -> tuple[str, ...]:
        """The key subjects of a `sealed_with` value, each once, in order; the company's when nobody is named."""
        subjects: list[str] = []
        for name in (n.strip() for n in names.split(",")):
            if name == COMPANY:
                subjects.append(COMPANY_SUBJECT)
                continue
            owner = next((m for m in reversed(chain) if name in m.DESCRIPTOR.fields_by_name), None)
            if owner is None:
                where = chain[-1].DESCRIPTOR.full_name
                raise ValueError(f"sealed_with names {name!r}, not a field of {where} or its parents")
            value = getattr(owner, name)
            if isinstance(value, message.Message):
                items: list[object] = [value] if owner.HasField(name) else []
            else:
                items = [value] if isinstance(value, str) else list(value)
            for item in items:
                if isinstance(item, message.Message) and item.DESCRIPTOR.full_name == PERSON:
                    if (subject := self.person(item)) != COMPANY_SUBJECT:
                        subjects.append(subject)
                elif isinstance(item, str):
                    if item:
                        subjects.append(item)
                else:
                    raise ValueError(f"sealed_with names {name!r}: neither a PersonRef nor a profile id string")
        return tuple(dict.fromkeys(subjects)) or (COMPANY_SUBJECT,)
