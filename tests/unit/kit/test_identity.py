"""Person ids are stable per company and identity key, and differ across companies."""

from services.kit import identity


def test_profile_ids_are_stable_and_tenant_scoped() -> None:
    a = identity.profile_id_for_email("acme", " Ada@Example.org ")
    assert a == identity.profile_id_for_email("acme", "ada@example.org")
    assert a != identity.profile_id_for_email("globex", "ada@example.org")
    assert identity.profile_id_for_external("acme", "kintell", "k-1") != identity.profile_id_for_external(
        "acme", "buddy", "k-1"
    )
