"""The console in a real browser (Debian's headless Chromium through Playwright) against a real
``mockprovider serve``: what a person does on the page changes what the next FHIR request gets,
and what the mock received shows on the page. Keyboard use and accessibility are checked too."""
from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import helpers as h
from tests.console.conftest import DESKTOP, PHONE, TOKEN, shoot

pytestmark = pytest.mark.live

MIGRATE = h.STRUCTURED + "/Patient/$gpc.migratestructuredrecord"
STATIC_DIR = Path(__file__).resolve().parents[2] / "mockprovider" / "console" / "static"


def migrate(server, nhs: str, trace_id: str | None = None):
    headers = h.migrate_headers()
    if trace_id:
        headers["Ssp-TraceID"] = trace_id
    return server.request("POST", MIGRATE, headers, json.dumps(h.migrate_body(nhs)).encode())


def spine_code(answer) -> str:
    return json.loads(answer.body)["issue"][0]["details"]["coding"][0]["code"]


def open_view(page, name: str):
    page.goto(f"/_console#{name}")
    page.wait_for_selector(f"#view-{name}:not([hidden])")


# --- the page itself ------------------------------------------------------------------------------------
def test_the_console_needs_the_token(console_server):
    assert console_server.get("/_console").status == 401
    basic = base64.b64encode(f"me:{TOKEN}".encode()).decode()
    answer = console_server.get("/_console", {"Authorization": f"Basic {basic}"})
    assert answer.status == 200 and b"mockprovider console" in answer.body


def test_every_file_the_page_loads_is_served_from_here_with_its_type(console_server):
    """The page names its scripts and stylesheet on this origin only (the CSP allows nothing else);
    each is served with the type nosniff needs, the shared kit before the scripts that use it, and
    nothing in the static folder is left unserved."""
    basic = {"Authorization": "Basic " + base64.b64encode(f"me:{TOKEN}".encode()).decode()}
    page = console_server.get("/_console", basic)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "default-src 'none';" in csp
    html = page.body.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts[0] == "/_console/console-kit.js" and len(scripts) == len(set(scripts)) >= 4
    static = STATIC_DIR.glob("*")
    assert sorted(f"/_console/{p.name}" for p in static if p.name != "index.html") == sorted(scripts + sheets)
    for url in scripts + sheets:
        answer = console_server.get(url, basic)
        want = "text/javascript" if url.endswith(".js") else "text/css"
        assert answer.status == 200 and answer.headers["Content-Type"].startswith(want), (url, answer.status)
        assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["Content-Security-Policy"] == csp
        assert re.search(r"""(src|href)=["']?(https?:)?//|import\s*\(|@import""", answer.body.decode()) is None, url


def test_only_the_kit_reads_the_token_and_sends_it():
    """One place handles the control token: the kit reads the <meta> element and adds the Bearer
    header; the view scripts call the kit (a copy elsewhere would be a second rule to keep right)."""
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        holds = "mockprovider-control-token" in text or "Authorization" in text or "fetch(" in text
        assert holds == (script.name == "console-kit.js"), script.name


# --- flags ---------------------------------------------------------------------------------------------------
def test_a_flag_toggled_in_the_page_changes_the_next_fhir_answer(console_server, page):
    """dissent_blocks_migrate (seed table: 403 NO_PATIENT_CONSENT for a dissented patient)."""
    dissented = "9690938576"
    before = migrate(console_server, dissented)
    assert before.status == 403 and spine_code(before) == "NO_PATIENT_CONSENT"

    open_view(page, "flags")
    box = page.get_by_label("dissent_blocks_migrate")
    assert box.is_checked()
    box.focus()
    page.keyboard.press("Space")                       # keyboard only
    page.wait_for_selector("#status:has-text('dissent_blocks_migrate is now false')")
    shoot(page, "flags-desktop")
    assert migrate(console_server, dissented).status == 200
    assert console_server.control.call("GET", "/flags")["dissent_blocks_migrate"] is False

    page.get_by_label("validation").select_option("lenient")
    page.wait_for_selector("#status:has-text('validation is now \"lenient\"')")
    # lenient: a request without Ssp-From / Ssp-To is served instead of 400
    headers = h.metadata_headers(**{"Ssp-From": None, "Ssp-To": None})
    assert console_server.get(h.STRUCTURED + "/metadata", headers).status == 200
    open_view(page, "journal")                       # each relaxation used is a finding
    row = page.locator("#journal-table tr.journal-row", has_text="metadata_structured").first
    row.get_by_role("button").click()
    detail = page.locator("#" + row.get_by_role("button").get_attribute("aria-controls"))
    assert "Ssp-From missing (lenient)" in detail.inner_text()
    open_view(page, "flags")
    box = page.get_by_label("dissent_blocks_migrate")

    box.focus()
    page.keyboard.press("Space")
    page.wait_for_selector("#status:has-text('dissent_blocks_migrate is now true')")
    assert migrate(console_server, dissented).status == 403


def test_a_bad_number_is_refused_with_the_servers_reason(console_server, page):
    page.allow_failed_loads = True
    open_view(page, "flags")
    field = page.get_by_label("retrieve_document_limit_bytes")
    field.fill("-5")
    field.press("Enter")
    page.wait_for_selector("#alert:not([hidden])")
    assert console_server.control.call("GET", "/flags")["retrieve_document_limit_bytes"] == 5 * 1024 * 1024


# --- faults ---------------------------------------------------------------------------------------------------
def test_a_fault_added_in_the_form_fires_then_expires(console_server, page):
    open_view(page, "faults")
    form = page.locator("#fault-error")
    form.get_by_label("Answer").select_option("status:503")
    form.get_by_label("times").fill("1")
    form.get_by_label("interaction").select_option("migrate_structured")
    form.get_by_label("nhs_number").fill("9690937286")
    form.get_by_role("button", name="Add error rule").click()
    row = page.locator("#rules-table tbody tr")
    row.first.wait_for()
    assert row.count() == 1
    assert "503" in row.first.inner_text() and "nhs_number = 9690937286" in row.first.inner_text()
    assert row.first.locator("td").nth(3).inner_text() == "1"          # remaining uses
    shoot(page, "faults-desktop")

    other = migrate(console_server, "9690937278")                      # not matched
    assert other.status == 200
    fired = migrate(console_server, "9690937286")
    assert fired.status == 503
    page.wait_for_selector("#rules-empty:not([hidden])")               # spent: gone from the table
    assert migrate(console_server, "9690937286").status == 200


def test_a_socket_fault_from_the_form_and_delete(console_server, page):
    open_view(page, "faults")
    page.get_by_label("reset", exact=True).check()
    form = page.locator("#fault-reset")
    form.get_by_label("interaction").select_option("metadata_structured")
    form.get_by_role("button", name="Add reset rule").click()
    page.locator("#rules-table tbody tr").first.wait_for()
    answer = console_server.get(h.STRUCTURED + "/metadata", h.metadata_headers())
    assert answer.status is None and answer.error is not None          # connection reset, no HTTP answer
    answer = console_server.get(h.STRUCTURED + "/metadata", h.metadata_headers())
    assert answer.status is None                                       # no "times": still there
    page.get_by_role("button", name=re.compile(r"Delete reset rule")).click()
    page.wait_for_selector("#rules-empty:not([hidden])")
    assert console_server.control.call("GET", "/faults") == []
    assert console_server.get(h.STRUCTURED + "/metadata", h.metadata_headers()).status == 200


def test_a_rule_the_server_refuses_names_the_field(console_server, page):
    page.allow_failed_loads = True                                        # the 400 is the point
    open_view(page, "faults")
    page.get_by_label("delay", exact=True).focus()
    page.keyboard.press("Space")                                          # the kind radios, by keyboard
    form = page.locator("#fault-delay")
    expect(form).to_be_visible()
    form.get_by_role("button", name="Add delay rule").click()             # ms missing
    page.wait_for_selector("#alert:has-text('ms')")
    assert console_server.control.call("GET", "/faults") == []
    assert page.evaluate("document.activeElement.id") == "fault-delay-ms"


# --- journal ---------------------------------------------------------------------------------------------------
def test_a_request_appears_in_the_journal_with_its_diagnostics(console_server, page):
    open_view(page, "journal")
    trace = str(uuid.uuid4())
    answer = migrate(console_server, "1234567891", trace)                 # fails Mod-11
    assert answer.status == 400 and spine_code(answer) == "INVALID_NHS_NUMBER"
    diagnostics = json.loads(answer.body)["issue"][0]["diagnostics"]
    migrate(console_server, "9690937286")                                 # another row, filtered away

    row = page.locator("#journal-table tr.journal-row", has_text="INVALID_NHS_NUMBER")
    row.wait_for()                                                        # live: no reload needed
    page.get_by_label("Trace id", exact=True).fill(trace)
    expect(page.locator("#journal-table tr.journal-row")).to_have_count(1)
    assert "migrate_structured" in row.inner_text() and "400" in row.inner_text()
    toggle = row.get_by_role("button")
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    detail = page.locator("#" + toggle.get_attribute("aria-controls"))
    expect(detail).to_be_visible()
    text = detail.inner_text()
    assert "INVALID_NHS_NUMBER" in text and diagnostics in text
    shoot(page, "journal-desktop")

    page.get_by_label("Trace id", exact=True).fill("")
    page.get_by_label("Status", exact=True).select_option("2xx")
    rows = page.locator("#journal-table tr.journal-row")
    expect(rows.locator("td:nth-child(5)")).to_have_text(["200"])       # only the 200 row is left


def test_new_requests_arrive_without_closing_an_open_row(console_server, page):
    open_view(page, "journal")
    migrate(console_server, "9999999999")
    row = page.locator("#journal-table tr.journal-row").first
    row.wait_for()
    row.get_by_role("button").click()
    migrate(console_server, "9690937278")
    rows = page.locator("#journal-table tr.journal-row")
    expect(rows.locator("td:nth-child(5)")).to_have_text(["200", "404"])  # newest first
    second = rows.nth(1)
    assert second.get_by_role("button").get_attribute("aria-expanded") == "true"


# --- personas ---------------------------------------------------------------------------------------------------
def test_a_persona_opens_with_rules_documents_and_its_bundle_tree(console_server, page):
    open_view(page, "personas")
    search = page.get_by_label("Search by NHS number, name or tag")
    search.fill("dissent")                                                 # by tag (or a word of a description)
    expect(page.locator("#persona-list button", has_text="9690938576")).to_have_count(1)
    expect(page.locator("#persona-list button", has_text="9690937286")).to_have_count(0)
    search.fill("9690938576")                                              # by NHS number
    expect(page.locator("#persona-list button")).to_have_count(1)
    search.fill("Jackson")                                                 # by name
    page.locator("#persona-list button", has_text="9690937286").click()
    page.wait_for_selector("#bundle-tree details.entry")
    detail = page.locator("#persona-detail")
    assert "conf/N + includeSensitiveInformation=true → 400 CONFLICTING_VALUES" in detail.inner_text()
    assert detail.locator(".document").count() == 6
    assert "852 bytes" in detail.locator(".document", has_text="discharge-letter").inner_text()
    assert re.search(r"http://127\.0\.0\.1:\d+/B82617/STU3/1/gpconnect/documents/fhir/Binary/",
                     detail.locator(".document .url").first.inner_text())
    shoot(page, "personas-desktop")
    bundle = console_server.control.call("GET", "/personas/9690937286/record?sensitive=true")
    entries = page.locator("#bundle-tree details.entry")
    assert entries.count() == len(bundle["entry"])
    patient = page.locator("#bundle-tree details.entry", has=page.locator("summary .rt", has_text=re.compile("^Patient$")))
    patient.locator("summary").first.click()
    expect(patient.locator(".leaf", has_text="resourceType").first).to_be_visible()
    page.locator("#record-heading").evaluate("heading => heading.scrollIntoView()")
    shoot(page, "bundle-tree-desktop", top=False)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    saved = download.value
    assert saved.suggested_filename == "9690937286-migrate-sensitive.json"
    assert json.loads(open(saved.path(), encoding="utf-8").read()) == bundle


def test_the_bundle_follows_include_sensitive_information(console_server, page):
    """9690938118: one confidential allergy, left out without sensitive information."""
    open_view(page, "personas")
    page.get_by_label("Search by NHS number, name or tag").fill("9690938118")
    page.locator("#persona-list button").first.click()
    page.wait_for_selector("#bundle-tree details.entry")
    allergies = "#bundle-tree details.entry:has(> summary .rt:text-is('AllergyIntolerance'))"
    assert page.locator(allergies).count() == 2
    page.get_by_label("false (conf/N)").check()
    expect(page.locator(allergies)).to_have_count(1)


# --- reset ---------------------------------------------------------------------------------------------------
def test_reset_asks_first(console_server, page):
    console_server.control.call("PATCH", "/flags", {"gpconnect_enabled": False})
    console_server.control.call("POST", "/faults", {"kind": "delay", "ms": 1})
    open_view(page, "flags")
    page.get_by_role("button", name="Reset…").click()
    dialog = page.get_by_role("dialog", name="Reset the mock?")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "reset-cancel"   # the safe choice first
    page.keyboard.press("Enter")                                         # Cancel
    expect(dialog).to_be_hidden()
    assert console_server.control.call("GET", "/flags")["gpconnect_enabled"] is False
    page.get_by_role("button", name="Reset…").click()
    page.get_by_role("button", name="Reset everything").click()
    page.wait_for_selector("#status:has-text('Reset:')")
    assert console_server.control.call("GET", "/flags")["gpconnect_enabled"] is True
    assert console_server.control.call("GET", "/faults") == []
    assert page.get_by_label("gpconnect_enabled").is_checked()


def test_reset_says_run_time_personas_are_removed(console_server, page):
    """The dialog names everything reset does: a persona put over the control API goes (issue #28)."""
    console_server.control.call("PUT", "/personas/9690990500", {
        "name": {"family": "Runtime"}, "gender": "female", "birth_date": "1980-01-01"})
    open_view(page, "personas")
    page.get_by_role("button", name="Reset…").click()
    dialog = page.get_by_role("dialog", name="Reset the mock?")
    expect(dialog).to_contain_text("run-time personas")
    page.get_by_role("button", name="Reset everything").click()
    page.wait_for_selector("#status:has-text('run-time personas removed')")
    numbers = [row["nhs_number"] for row in console_server.control.call("GET", "/personas")]
    assert "9690990500" not in numbers
    expect(page.locator("#persona-count")).to_have_text(re.compile(rf"^{len(numbers)} of {len(numbers)} personas\.$"))


# --- keyboard, screen readers, widths ------------------------------------------------------------------------
CHECK_PAGE = """() => {
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const name = (e) => (e.getAttribute('aria-label') || (e.labels && [...e.labels].map(l => l.textContent).join(' '))
      || (e.getAttribute('aria-labelledby') || '').split(' ').map(id => (document.getElementById(id) || {}).textContent || '').join(' ')
      || e.textContent || '').trim();
  const unnamed = [...document.querySelectorAll('input, select, button, a[href], textarea')]
      .filter(visible).filter(e => !name(e)).map(e => e.outerHTML.slice(0, 80));
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                                 if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const low = [];
  for (const e of document.querySelectorAll('body *')) {
    if (!visible(e) || ![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  const wide = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
  return {unnamed, low, wide};
}"""


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "phone"])
def test_every_control_is_named_text_has_contrast_and_nothing_overflows(console_server, page, size):
    page.set_viewport_size(size)
    migrate(console_server, "1234567891")
    for view in ("personas", "flags", "faults", "journal", "practices"):
        open_view(page, view)
        if view == "practices":
            page.locator("#practice-list button", has_text="Y90007").click()
            page.wait_for_selector("#practice-detail table.sds-table")
        if view == "personas":
            page.get_by_label("Search by NHS number, name or tag").fill("9690937286")
            page.locator("#persona-list button").first.click()
            page.wait_for_selector("#bundle-tree details.entry")
        if view == "journal":
            page.locator("#journal-table tr.journal-row").first.wait_for()
            page.locator("#journal-table tr.journal-row button").first.click()
        if view == "faults":
            page.locator("#fault-error").wait_for()
        found = page.evaluate(CHECK_PAGE)
        assert found["unnamed"] == [], (view, found["unnamed"])
        assert found["low"] == [], (view, found["low"])
        assert not found["wide"], f"{view}: the page scrolls sideways at {size['width']} px"
        if size is PHONE:
            shoot(page, f"{view}-phone")


def test_keyboard_only_reaches_every_section_in_order(console_server, page):
    page.goto("/_console")
    page.wait_for_selector("#persona-list button")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert order == ["Personas", "Flags", "Faults", "Journal", "Practices", "Reset…", ""]   # then the search box
    assert page.evaluate("document.activeElement.id") == "persona-search"
    for name in ("Flags", "Faults", "Journal", "Practices", "Personas"):
        page.get_by_role("link", name=name).focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"#{name.lower()}-heading")).to_be_focused()                   # focus follows
        assert page.get_by_role("link", name=name).get_attribute("aria-current") == "page"


# --- the practices registry, SDS and PDS (issue #26) --------------------------------------------------------
def test_the_practices_view_shows_the_registry_sds_answers_and_pds_views(console_server, page):
    open_view(page, "practices")
    page.locator("#practice-list button").first.wait_for()
    listed = page.locator("#practice-list button").all_inner_texts()
    assert listed[0].startswith("B82617 (default)") and any(t.startswith("Y90001") for t in listed)
    assert "GPCA0001" in page.locator("#consumer-list").inner_text()
    page.locator("#practice-list button", has_text="Y90001").click()
    expect(page.locator("#practice-name")).to_be_focused()
    table = page.locator("#practice-detail table.sds-table")
    assert "https://gpconnect.y90001.example/Y90001/STU3/1/gpconnect/fhir" in table.inner_text()
    assert "918999190017" in table.inner_text()                       # the Device's ASID
    pds = page.locator("#practice-detail details.pds-view", has_text="9690990403")
    pds.locator("summary").click()
    assert '"value": "Y90001"' in pds.locator("pre").inner_text()    # PDS names the practice
    shoot(page, "practices-desktop")


def test_the_item_chosen_last_keeps_the_detail_pane(console_server, page):
    """A slow answer for an item no longer chosen (here: a failure) neither replaces the detail of
    the one chosen since nor moves aria-current back to it."""
    page.allow_failed_loads = True                 # the held answer is let through as a 500
    held = []
    page.route("**/_control/practices/B82617", lambda route: held.append(route))
    open_view(page, "practices")
    page.locator("#practice-list button", has_text="B82617").click()
    expect(page.locator("#practice-detail")).to_have_text("Loading B82617…")
    page.locator("#practice-list button", has_text="Y90001").click()
    expect(page.locator("#practice-name")).to_be_focused()
    assert len(held) == 1
    held[0].fulfill(status=500, content_type="application/json", body='{"error": "late and failed"}')
    page.wait_for_timeout(300)                     # time for the late answer to be handled
    expect(page.locator("#practice-name")).to_contain_text("Y90001")
    assert "late and failed" not in page.locator("#practice-detail").inner_text()
    current = page.locator("#practice-list button[aria-current='true']")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Y90001")


def test_a_quirk_rule_from_the_fault_form_changes_what_sds_answers(console_server, page):
    open_view(page, "faults")
    page.get_by_label("quirk", exact=True).check()
    form = page.locator("#fault-quirk")
    form.get_by_label("quirk (required)").select_option("empty-address")
    form.get_by_label("interaction").select_option("sds_endpoint")
    form.get_by_label("ods").fill("B82617")
    form.get_by_role("button", name="Add quirk rule").click()
    row = page.locator("#rules-table tbody tr")
    row.first.wait_for()
    assert "empty-address" in row.first.inner_text()
    answer = console_server.request("GET", "/spine-directory/FHIR/R4/Endpoint?organization=https://fhir.nhs.uk/Id/"
                                    "ods-organization-code%7CB82617&identifier=https://fhir.nhs.uk/Id/"
                                    f"nhsServiceInteractionId%7C{h.MIGRATE_STRUCTURED}", {}, None)
    assert json.loads(answer.body)["entry"][0]["resource"]["address"] == ""
