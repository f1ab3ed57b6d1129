"""Person ids are stable per company and identity key, and differ across companies."""

from services.kit import identity


def test_profile_ids_are_stable_and_tenant_scoped() -> None:
    a = identity.profile_id_for_email("acme", " Ada@Example.org ")
    assert a == identity.profile_id_for_email("acme", "ada@example.org")
    assert a != identity.profile_id_for_email("globex", "ada@example.org")
    assert identity.profile_id_for_external("acme", "kintell", "k-1") != identity.profile_id_for_external(
        "acme", "buddy", "k-1"
    )


def test_the_derivation_never_changes() -> None:
    """Ids are stored (and backfilled by frozen migrations): a new derivation would orphan every stored one."""
    assert identity.profile_id_for_email("acme", "ada@example.org") == "56b0113b-c393-56ad-8743-79e2e5f997bb"
    assert identity.profile_id_for_external("acme", "Kintell", " k-1 ") == "de55368d-946d-53d4-b579-ee928b844e55"
