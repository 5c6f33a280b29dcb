"""The console's "Try a query" (Retrieve a structured record) in a real browser against a real server:
the form's answer is the one a consumer gets from POST .../Patient/$gpc.getstructuredrecord."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests import helpers as h
from tests.console.conftest import shoot

pytestmark = pytest.mark.live
MAIN = "9690990306"


def open_persona(page, nhs):
    page.goto("/_console#personas")
    page.get_by_label("Search by NHS number, name or tag").fill(nhs)
    page.locator("#persona-list button").first.click()
    page.wait_for_selector("#query-form")


def fhir_retrieve(server, *params):
    r = server.request("POST", h.RETRIEVE_URL, h.retrieve_headers(), json.dumps(h.retrieve_body(MAIN, *params)).encode())
    return r.status, json.loads(r.body)


def test_a_query_from_the_form_answers_as_the_fhir_endpoint(console_server, page):
    open_persona(page, MAIN)
    page.get_by_label("Ask for allergies").check()
    page.get_by_label("Ask for medications").check()
    page.locator("[data-area='includeMedication'] input[name='includePrescriptionIssues']").uncheck()
    page.locator("[data-area='includeMedication'] input[name='medicationSearchFromDate']").fill("2024-01-01")
    page.get_by_role("button", name="Run query").click()
    page.wait_for_selector("#query-status")
    expect(page.locator("#query-status")).to_contain_text("200")
    status, bundle = fhir_retrieve(console_server, h.area("includeAllergies", includeResolvedAllergies=True),
                                   h.area("includeMedication", includePrescriptionIssues=False,
                                          medicationSearchFromDate="2024-01-01"))
    assert status == 200
    expect(page.locator("#query-status")).to_contain_text(f"{len(bundle['entry'])} entries")
    rows = page.locator("#query-lists tbody tr")
    titles = [r["resource"]["title"] for r in bundle["entry"] if r["resource"]["resourceType"] == "List"]
    expect(rows).to_have_count(len(titles))
    for title in titles:
        expect(page.locator("#query-lists th", has_text=title)).to_have_count(1)
    sent = json.loads(page.locator("#query-request").text_content())
    assert sent["parameter"][0]["valueIdentifier"]["value"] == MAIN
    assert {"name": "medicationSearchFromDate", "valueDate": "2024-01-01"} in sent["parameter"][2]["part"]
    medications = page.locator("#query-lists tr", has_text="Medications and medical devices")
    expect(medications.locator("td").nth(1)).to_have_text("confidential-items")
    shoot(page, "try-a-query-desktop", top=False)


def test_a_refused_query_shows_the_spine_code_and_why(console_server, page):
    page.allow_failed_loads = True             # the control call answers 422, as the FHIR endpoint does
    open_persona(page, MAIN)
    page.get_by_label("Ask for consultations").check()
    page.get_by_label("Ask for problems").check()
    page.locator("[data-area='includeProblems'] select[name='filterStatus']").select_option("active")
    page.get_by_role("button", name="Run query").click()
    status = page.locator("#query-status")
    expect(status).to_contain_text("422 INVALID_PARAMETER")
    expect(status).to_contain_text("filterStatus")


def test_unrecognised_and_empty_answers(console_server, page):
    """A persona the page does not share (dissent) answers 403 through the form too."""
    page.allow_failed_loads = True
    open_persona(page, "9690938576")
    page.get_by_label("Ask for immunisations").check()
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#query-status")).to_contain_text("403 NO_PATIENT_CONSENT")
