"""The Retrieve a structured record answers are in the conformance cast (issue #25): every query of
``cast.retrieve_queries`` for every persona answering 200, so the profile, page-rule and third-party checks
(test_profiles.py, test_page_rules.py, test_terminology.py) run over them too."""
from datetime import date

from tests.conformance import cast


def test_every_query_of_every_answering_persona_is_in_the_cast(default_cast):
    labels = [label for label, _ in default_cast if "/retrieve-" in label]
    queries = {label.split("/retrieve-", 1)[1] for label in labels}
    assert queries == set(cast.retrieve_queries(date.today()))
    personas = {label.split("/", 1)[0] for label in labels}
    migrated = {label.split("/", 1)[0] for label, _ in default_cast if label.endswith("/standard")}
    # migrate answers an inactive registration and a patient registered elsewhere; retrieve does not (404)
    assert migrated - personas == {"9690938142", "9690939114"} and personas <= migrated
    assert len(labels) > 300
    everything = [body for label, body in default_cast if label.endswith("/retrieve-everything")]
    assert all(body["entry"][-1]["resource"]["resourceType"] == "OperationOutcome" for body in everything)
