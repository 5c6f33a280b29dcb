/* mockprovider console: "Try a query" on a persona (Retrieve a patient's structured record).
 * console.js announces each persona it shows ("mockprovider:persona" event) and this script adds a
 * form under it (the shared helpers, the control call among them, come from console-kit.js). The
 * form builds the Parameters resource a consumer would send and posts it to
 * POST /_control/personas/{nhs}/retrieve, which answers exactly what $gpc.getstructuredrecord
 * answers (without headers and JWT). Text from the server is only ever set as text. */
"use strict";

(function () {
  const { el, send, typeCounts } = window.consoleKit;   // console-kit.js

  // The clinical areas and their part parameters (the retrieve page's parameter table).
  const AREAS = [
    { name: "includeAllergies", label: "Allergies", parts: [
      { name: "includeResolvedAllergies", label: "Include resolved (ended) allergies", type: "boolean", value: true, required: true }] },
    { name: "includeMedication", label: "Medications", parts: [
      { name: "includePrescriptionIssues", label: "Include prescription issues", type: "boolean", value: true },
      { name: "medicationSearchFromDate", label: "Active on or after", type: "date" }] },
    { name: "includeConsultations", label: "Consultations", parts: [
      { name: "consultationSearchPeriod", label: "Consultations between", type: "period" },
      { name: "includeNumberOfMostRecent", label: "Or the most recent (number)", type: "number" }] },
    { name: "includeProblems", label: "Problems", parts: [
      { name: "filterStatus", label: "Status", type: "choice", choices: ["", "active", "inactive"] }] },
    { name: "includeImmunisations", label: "Immunisations", parts: [
      { name: "includeNotGiven", label: "Include immunisations not given", type: "boolean", value: false },
      { name: "includeStatus", label: "Include consent and dissent records", type: "boolean", value: true }] },
    { name: "includeUncategorisedData", label: "Uncategorised data", parts: [
      { name: "uncategorisedDataSearchPeriod", label: "Recorded between", type: "period" }] },
    { name: "includeInvestigations", label: "Investigations", parts: [
      { name: "investigationSearchPeriod", label: "Issued between", type: "period" }] },
    { name: "includeReferrals", label: "Referrals", parts: [
      { name: "referralSearchPeriod", label: "Authored between", type: "period" }] },
    { name: "includeDiaryEntries", label: "Diary entries", parts: [
      { name: "diaryEntriesSearchDate", label: "Due on or before", type: "date" }] },
  ];

  function field(prefix, part) {
    const id = `${prefix}-${part.name}`;
    if (part.type === "boolean") {
      return el("div", { class: "field check" },
        el("input", { type: "checkbox", id, name: part.name, checked: part.value }),
        el("label", { for: id, text: `${part.label} (${part.name})` }));
    }
    if (part.type === "choice") {
      return el("div", { class: "field" }, el("label", { for: id, text: `${part.label} (${part.name})` }),
        el("select", { id, name: part.name }, part.choices.map((c) => el("option", { value: c, text: c || "any" }))));
    }
    if (part.type === "period") {
      return el("fieldset", { class: "period" }, el("legend", { text: `${part.label} (${part.name})` }),
        el("div", { class: "field" }, el("label", { for: id + "-start", text: "start" }),
          el("input", { type: "date", id: id + "-start", name: part.name + ".start" })),
        el("div", { class: "field" }, el("label", { for: id + "-end", text: "end" }),
          el("input", { type: "date", id: id + "-end", name: part.name + ".end" })));
    }
    return el("div", { class: "field" }, el("label", { for: id, text: `${part.label} (${part.name})` }),
      el("input", { type: part.type === "number" ? "number" : "date", id, name: part.name,
                    min: part.type === "number" ? "1" : null, step: part.type === "number" ? "1" : null }));
  }

  // The Parameters resource the form describes; part parameters only when they differ from "not sent".
  function parameters(form, nhs) {
    const params = [{ name: "patientNHSNumber", valueIdentifier: { system: "https://fhir.nhs.uk/Id/nhs-number", value: nhs } }];
    for (const area of AREAS) {
      const box = form.querySelector(`[data-area="${area.name}"] input[name="include"]`);
      if (!box || !box.checked) continue;
      const scope = form.querySelector(`[data-area="${area.name}"]`);
      const parts = [];
      for (const part of area.parts) {
        if (part.type === "boolean") {
          const checked = scope.querySelector(`[name="${part.name}"]`).checked;
          if (part.required || checked !== part.value) parts.push({ name: part.name, valueBoolean: checked });
        } else if (part.type === "period") {
          const start = scope.querySelector(`[name="${part.name}.start"]`).value;
          const end = scope.querySelector(`[name="${part.name}.end"]`).value;
          if (start || end) {
            const period = {};
            if (start) period.start = start;
            if (end) period.end = end;
            parts.push({ name: part.name, valuePeriod: period });
          }
        } else {
          const value = scope.querySelector(`[name="${part.name}"]`).value;
          if (!value) continue;
          if (part.type === "number") parts.push({ name: part.name, valuePositiveInt: Number(value) });
          else if (part.type === "choice") parts.push({ name: part.name, valueCode: value });
          else parts.push({ name: part.name, valueDate: value });
        }
      }
      params.push(parts.length ? { name: area.name, part: parts } : { name: area.name });
    }
    return { resourceType: "Parameters", parameter: params };
  }

  function listSummary(bundle) {
    const lists = (bundle.entry || []).map((e) => e.resource).filter((r) => r && r.resourceType === "List" && r.title
      && !(r.code && r.code.coding && ["325851000000107", "25851000000105", "24781000000107"].includes(r.code.coding[0].code)));
    if (!lists.length) return el("p", { class: "hint", text: "No query Lists: only the patient's administrative resources." });
    return el("div", { class: "table-wrap", role: "region", "aria-label": "Lists returned", tabindex: "0" },
      el("table", { id: "query-lists" },
        el("caption", { class: "visually-hidden", text: "Lists returned by the query" }),
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "List" }), el("th", { scope: "col", text: "Entries" }),
          el("th", { scope: "col", text: "Warnings" }))),
        el("tbody", {}, lists.map((l) => el("tr", {},
          el("th", { scope: "row", text: l.title }),
          el("td", { text: String((l.entry || []).length) + (l.emptyReason ? " (empty)" : "") }),
          el("td", { text: (l.extension || []).filter((x) => x.url && x.url.endsWith("ListWarningCode-1"))
            .map((x) => x.valueCode).join(", ") || "—" }))))));
  }

  async function run(form, nhs, out) {
    const body = parameters(form, nhs);
    form.querySelector("#query-request").textContent = JSON.stringify(body, null, 2);
    out.replaceChildren(el("p", { class: "hint", text: "Running…" }));
    let answer;
    try {       // an error answer (4xx with its OperationOutcome) is shown, not thrown
      answer = await send("POST", `/_control/personas/${encodeURIComponent(nhs)}/retrieve`, body, "application/fhir+json");
    } catch (e) {
      out.replaceChildren(el("p", { class: "alert", text: String(e) }));
      return;
    }
    const { data, text } = answer;
    const status = el("p", { id: "query-status", role: "status" });
    const pieces = [status];
    if (data && data.resourceType === "OperationOutcome") {
      const issue = (data.issue || [])[0] || {};
      const code = issue.details && issue.details.coding && issue.details.coding[0] ? issue.details.coding[0].code : "";
      status.textContent = `${answer.status} ${code}: ${issue.diagnostics || ""}`;
      status.className = "alert";
    } else if (data && data.resourceType === "Bundle") {
      status.textContent = `${answer.status}: ${(data.entry || []).length} entries — ` + typeCounts(data);
      pieces.push(listSummary(data));
      const warning = (data.entry || []).map((e) => e.resource).find((r) => r && r.resourceType === "OperationOutcome");
      if (warning) {
        pieces.push(el("p", { class: "hint", id: "query-warnings",
          text: "Unrecognised: " + (warning.issue || []).map((i) => i.diagnostics).join(", ") }));
      }
    } else {
      status.textContent = `${answer.status}: ${text.slice(0, 200)}`;
      status.className = "alert";
    }
    const raw = el("details", { class: "query-json" }, el("summary", { text: "Answer as JSON" }));
    raw.addEventListener("toggle", () => {
      if (raw.open && raw.children.length === 1) raw.append(el("pre", { class: "mono", text: data ? JSON.stringify(data, null, 2) : text }));
    });
    pieces.push(raw);
    out.replaceChildren(...pieces);
  }

  function section(persona) {
    const nhs = persona.nhs_number;
    const prefix = "query-" + nhs;
    const out = el("div", { id: "query-answer", "aria-live": "polite" });
    const form = el("form", { id: "query-form", class: "query-form", novalidate: true },
      el("div", { class: "query-areas" }, AREAS.map((area) => el("fieldset", { "data-area": area.name },
        el("legend", { text: area.label }),
        el("div", { class: "field check" },
          el("input", { type: "checkbox", name: "include", id: `${prefix}-${area.name}` }),
          el("label", { for: `${prefix}-${area.name}`, text: `Ask for ${area.label.toLowerCase()} (${area.name})` })),
        area.parts.map((part) => field(`${prefix}-${area.name}`, part))))),
      el("div", { class: "buttons" },
        el("button", { type: "submit", id: "query-run", text: "Run query" }),
        el("button", { type: "button", class: "secondary", id: "query-clear", text: "Clear",
                       onclick: () => { form.reset(); out.replaceChildren(); } })),
      el("details", {}, el("summary", { text: "Request body (Parameters)" }),
        el("pre", { id: "query-request", class: "mono", text: "" })));
    form.addEventListener("submit", (event) => { event.preventDefault(); run(form, nhs, out); });
    return el("section", { id: "query", "aria-labelledby": "query-heading" },
      el("h3", { id: "query-heading", text: "Try a query (Retrieve a structured record)" }),
      el("p", { class: "hint", text: "Tick the areas to ask for and their filters, then run: the answer is what " +
        "POST …/Patient/$gpc.getstructuredrecord gives a consumer, errors included." }),
      form, out);
  }

  document.addEventListener("mockprovider:persona", (event) => {
    const { persona, pane } = event.detail || {};
    if (!persona || !pane) return;
    const old = pane.querySelector("#query");
    if (old) old.remove();
    pane.append(section(persona));
  });
}());
