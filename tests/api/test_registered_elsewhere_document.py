"""Migrate a document for the built-in registered-elsewhere persona (errors.md §4.2, design.md).

9690939114 is registered at A20047 on PDS; the assurance suite's consumer is GPCA0001.
"""
import base64
from pathlib import Path

from mockprovider.personas import ids
from tests import helpers as h
from tests.spec_tables import assert_outcome

NHS = "9690939114"
DOC = ids.document_id(NHS, "clinic-note")
SOURCE = Path(__file__).resolve().parents[2] / "personas" / "files" / "clinic-note.txt"


def migrate_document(client, ods):
    return client.get(f"{h.DOCUMENTS}/Binary/{DOC}",
                      headers=h.headers(h.MIGRATE_DOCUMENT, h.claims(reason="migration", ods=ods)))


def test_another_practice_is_not_authorised_as_the_seed_says(client):
    assert_outcome(migrate_document(client, "GPCA0001"), "NOT_AUTHORISED")


def test_current_codes_flag_gives_no_relationship(client, control):
    control.update_flags({"migrate_document_codes": "current"})
    assert_outcome(migrate_document(client, "GPCA0001"), "NO_RELATIONSHIP")


def test_the_registered_practice_gets_the_document(client):
    r = migrate_document(client, "A20047")
    assert r.status_code == 200
    assert base64.b64decode(r.get_json()["content"]) == SOURCE.read_bytes()
