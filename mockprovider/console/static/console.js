/* mockprovider console: a page over the public control API (/_control/*) only.
 * Every action here is one control call a script could make with curl. No framework, no build
 * step, nothing fetched from elsewhere. Text from the server is always set as text, never as HTML. */
"use strict";

(function () {
  const { el, $, say, fail, api, listItem, openItem, typeCounts } = window.consoleKit;   // console-kit.js
  const POLL_MS = 2000;
  const MAX_LISTED = 60;
  const state = { catalogue: null, personas: [], selected: null, record: null, journalKeys: new Map(),
                  view: null, timer: null };

  // --- small helpers -------------------------------------------------------------------------------
  function bytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = n, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    const shown = unit === 0 ? String(value) : value.toFixed(value >= 100 ? 0 : 1);
    return `${shown} ${units[unit]}` + (unit ? ` (${n.toLocaleString("en-GB")} bytes)` : "");
  }
  const display = (code) => (typeof code === "string" && code.includes("|")) ? code.split("|").slice(1).join("|") : code;

  // --- views (hash navigation) ---------------------------------------------------------------------
  // Every section the header's nav names (data-view); another script may own a view and load it on
  // the "console:view" event (lookups.js: practices).
  const VIEWS = Array.from(document.querySelectorAll(".top nav a[data-view]")).map((a) => a.dataset.view);

  function showView(name, moveFocus) {
    if (!VIEWS.includes(name)) name = "personas";
    if (state.view && state.view !== name) { $("#status").textContent = ""; $("#alert").hidden = true; }
    state.view = name;
    for (const view of VIEWS) $("#view-" + view).hidden = view !== name;
    for (const link of document.querySelectorAll(".top nav a")) {
      if (link.dataset.view === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${name[0].toUpperCase()}${name.slice(1)} · mockprovider console`;
    if (moveFocus) $(`#${name}-heading`).focus();
    if (name === "flags") loadFlags();
    if (name === "faults") loadRules();
    if (name === "journal") loadJournal();
    document.dispatchEvent(new CustomEvent("console:view", { detail: name }));
    schedule();
  }

  function schedule() {
    window.clearTimeout(state.timer);
    if (document.hidden) return;
    const live = state.view === "journal" ? $("#journal-live").checked : state.view === "faults";
    if (!live) return;
    state.timer = window.setTimeout(async () => {
      try {
        if (state.view === "journal") await loadJournal();
        if (state.view === "faults") await loadRules();
      } catch (e) { /* shown by the loaders */ }
      schedule();
    }, POLL_MS);
  }

  // "1 persona", "2 personas"
  const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

  // --- header: server facts and reset --------------------------------------------------------------
  async function loadHealth() {
    try {
      const { data } = await api("GET", "/_control/health");
      $("#server-info").textContent = `Practice ${data.ods_code} · ${plural(data.personas, "persona")} · ${location.host}`;
    } catch (e) { fail(e.message); }
  }

  function setUpReset() {
    const dialog = $("#reset-dialog");
    const opener = $("#reset-open");
    opener.addEventListener("click", () => dialog.showModal());
    $("#reset-cancel").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => opener.focus());
    $("#reset-confirm").addEventListener("click", async () => {
      dialog.close();
      try {
        await api("POST", "/_control/reset");
        state.journalKeys.clear();
        $("#journal-table tbody").replaceChildren();
        say("Reset: flags back to start-up values, no fault rules, journal empty, run-time personas removed.");
        await refreshCatalogue();
        await loadHealth();
        await loadPersonas();
        if (state.view === "flags") renderFlags();
        if (state.view === "faults") await loadRules();
        if (state.view === "journal") await loadJournal();
      } catch (e) { fail(e.message); }
    });
  }

  // --- personas --------------------------------------------------------------------------------------
  async function loadPersonas() {
    try {
      const { data } = await api("GET", "/_control/personas");
      state.personas = Array.isArray(data) ? data : (data && data.personas) || [];
    } catch (e) {
      fail(e.message);
      state.personas = [];
    }
    renderPersonaList();
  }

  function personaMatches(p, words) {
    const hay = [p.nhs_number, p.name || "", (p.tags || []).join(" "), p.description || ""].join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function renderPersonaList() {
    const query = $("#persona-search").value.trim().toLowerCase();
    const words = query.split(/\s+/).filter(Boolean);
    const found = state.personas.filter((p) => personaMatches(p, words));
    const list = $("#persona-list");
    list.replaceChildren(...found.slice(0, MAX_LISTED).map((p) => listItem({
      key: "nhs", value: p.nhs_number, current: state.selected === p.nhs_number,
      onopen: () => openPersona(p.nhs_number, true),
      id: p.nhs_number, name: p.name || "", summary: (p.tags || []).join(", ") || "no tags" })));
    const total = state.personas.length;
    $("#persona-count").textContent = found.length > MAX_LISTED
      ? `${found.length} of ${total} match; showing the first ${MAX_LISTED}. Type more to narrow.`
      : `${found.length} of ${plural(total, "persona")}.`;
  }

  async function openPersona(nhs, moveFocus) {
    state.selected = nhs;
    const pane = $("#persona-detail");
    const persona = await openItem({ list: "#persona-list", key: "nhs", value: nhs, pane,
                                     path: `/_control/personas/${encodeURIComponent(nhs)}` });
    if (!persona) return;                        // failed (the pane says why) or another was chosen
    const listed = state.personas.find((p) => p.nhs_number === nhs) || {};
    const heading = el("h2", { id: "persona-name", tabindex: "-1", text: `${persona.name} · ${persona.nhs_number}` });
    const facts = el("dl", { class: "facts" },
      el("dt", { text: "NHS number" }), el("dd", { class: "mono", text: persona.nhs_number }),
      el("dt", { text: "Tags" }), el("dd", {}, (persona.tags || []).length
        ? persona.tags.map((t) => el("span", { class: "tag", text: t })) : "none"),
      el("dt", { text: "Born" }), el("dd", { text: `${persona.birth_date || "?"} (${persona.gender || "?"})` + (persona.deceased ? `, died ${persona.deceased}` : "") }),
      el("dt", { text: "PDS" }), el("dd", { text: [
        persona.pds && persona.pds.sensitive ? "sensitive" : "not sensitive",
        persona.pds && persona.pds.dissent ? "dissented" : "no dissent",
        persona.pds && persona.pds.registered_practice_ods ? `registered at ${persona.pds.registered_practice_ods}` : "registered here",
        `NHS number status ${persona.nhs_number_status}`].join(" · ") }),
      (listed.source || persona.source) ? el("dt", { text: "Source" }) : null,
      (listed.source || persona.source) ? el("dd", { text: listed.source || persona.source }) : null,
      el("dt", { text: "File" }), el("dd", { class: "mono", text: persona.file || "" }));
    const rules = persona.rules && persona.rules.length
      ? el("ul", { class: "rules" }, persona.rules.map((r) => el("li", { text: r })))
      : el("p", { class: "hint", text: "No rules listed for this persona (only personas in the folder's cast.toml have them)." });

    const docs = persona.documents || [];
    const documents = docs.length ? el("ul", { class: "documents", "aria-labelledby": "docs-heading" },
      docs.map((d) => el("li", { class: "document" },
        el("h4", {}, d.title || d.key,
           d.confidential ? el("span", { class: "tag warn", text: "confidential" }) : null,
           d.nopat ? el("span", { class: "tag warn", text: "NOPAT" }) : null),
        el("p", { text: d.description || "" }),
        el("dl", { class: "facts" },
          el("dt", { text: "Type" }), el("dd", { text: display(d.type) || "" }),
          el("dt", { text: "Content type" }), el("dd", { class: "mono", text: d.content_type }),
          el("dt", { text: "Size" }), el("dd", { class: "size", text: bytes(d.size) }),
          el("dt", { text: "Served" }), el("dd", { text: `retrieve: ${d.retrievable ? "yes" : "no"} · migrate: ${d.migratable ? "yes" : "no"}` }),
          el("dt", { text: "URL" }), el("dd", { class: "url mono", text: d.url })))))
      : el("p", { class: "hint", text: "No documents." });

    const recordArea = el("div", { id: "record" });
    pane.replaceChildren(
      heading,
      el("p", { text: persona.description || "" }),
      facts,
      el("h3", { text: "What it exercises" }),
      el("p", { text: persona.exercises || "—" }),
      el("h3", { text: "Rules it reaches" }),
      rules,
      el("h3", { id: "docs-heading", text: `Documents (${docs.length})` }),
      documents,
      el("h3", { id: "record-heading", text: "Migrate structured Bundle" }),
      recordArea);
    renderRecordControls(recordArea, persona);
    // Other parts of the console add to the persona view (retrieve-query.js: "Try a query").
    document.dispatchEvent(new CustomEvent("mockprovider:persona", { detail: { persona, pane } }));
    if (moveFocus) heading.focus();
    await loadRecord(persona, true);
  }

  function renderRecordControls(area, persona) {
    const name = "sensitivity-" + persona.nhs_number;
    const radio = (value, label, checked) => el("span", { class: "radio" },
      el("input", { type: "radio", name, id: `${name}-${value}`, value, checked,
                    onchange: () => loadRecord(persona, value === "true") }),
      el("label", { for: `${name}-${value}`, text: label }));
    area.replaceChildren(
      el("div", { class: "record-controls" },
        el("fieldset", {}, el("legend", { text: "includeSensitiveInformation" }),
          radio("true", "true (conf/R)", true), radio("false", "false (conf/N)", false)),
        el("button", { type: "button", class: "secondary", id: "tree-expand", onclick: () => expandEntries(true), text: "Expand all entries" }),
        el("button", { type: "button", class: "secondary", id: "tree-collapse", onclick: () => expandEntries(false), text: "Collapse all" }),
        el("button", { type: "button", id: "record-download", onclick: downloadRecord, text: "Download JSON" })),
      el("p", { class: "type-counts", id: "type-counts" }),
      el("div", { class: "tree", id: "bundle-tree", role: "region", "aria-label": "Bundle resource tree" }));
  }

  async function loadRecord(persona, sensitive) {
    const tree = $("#bundle-tree");
    if (!tree) return;
    tree.replaceChildren(el("p", { class: "hint", text: "Rendering…" }));
    try {
      const asked = (state.recordAsked = (state.recordAsked || 0) + 1);
      const { data, text } = await api("GET", `/_control/personas/${persona.nhs_number}/record?sensitive=${sensitive}`);
      if (asked !== state.recordAsked) return;   // a later choice wins
      state.record = { nhs: persona.nhs_number, sensitive, text, bundle: data };
      $("#type-counts").textContent = `${(data.entry || []).length} entries, ${bytes(text.length)} of JSON: ` +
        typeCounts(data);
      tree.replaceChildren(bundleNode(data));
    } catch (e) {
      tree.replaceChildren(el("p", { class: "alert", text: e.message }));
    }
  }

  function resourceHint(r) {
    if (!r || typeof r !== "object") return "";
    const coding = (c) => c && c.coding && c.coding[0] && (c.coding[0].display || c.coding[0].code);
    if (r.resourceType === "Patient" || r.resourceType === "Practitioner") {
      const n = (r.name || [])[0] || {};
      return [...(n.prefix || []), ...(n.given || []), n.family || ""].join(" ").trim();
    }
    return r.title || coding(r.code) || r.name || coding(r.medicationCodeableConcept) || r.description ||
      coding(r.type) || coding(r.vaccineCode) || r.status || "";
  }

  // A collapsible tree of <details>: native keyboard and screen-reader support; children built on
  // first opening, so a 3 MB Bundle costs nothing until someone looks inside.
  function branch(summaryParts, build, open) {
    const node = el("details", {}, el("summary", {}, summaryParts));
    let built = false;
    const fill = () => { if (!built && node.open) { built = true; node.append(...build()); } };
    node.addEventListener("toggle", fill);
    if (open) { node.open = true; fill(); }
    return node;
  }

  function valueNodes(key, value) {
    if (value !== null && typeof value === "object") {
      const isArray = Array.isArray(value);
      const size = isArray ? value.length : Object.keys(value).length;
      const label = isArray ? `[${size}]` : `{${size}}`;
      const hint = !isArray && value.resourceType ? ` ${value.resourceType}` : "";
      return branch([el("span", { class: "k", text: key }), " ", el("span", { class: "count", text: label + hint })],
        () => (isArray ? value.map((v, i) => valueNodes(String(i), v))
                       : Object.entries(value).map(([k, v]) => valueNodes(k, v))), false);
    }
    const kind = typeof value === "string" ? "str" : typeof value === "number" ? "num" : "bool";
    return el("div", { class: "leaf" }, el("span", { class: "k", text: key }), ": ",
              el("span", { class: "v " + kind, text: typeof value === "string" ? `"${value}"` : String(value) }));
  }

  function bundleNode(bundle) {
    const entries = bundle.entry || [];
    return branch([el("span", { class: "rt", text: "Bundle" }), ` ${bundle.type || ""} · ${entries.length} entries`], () => [
      ...Object.entries(bundle).filter(([k]) => k !== "entry").map(([k, v]) => valueNodes(k, v)),
      ...entries.map((entry) => {
        const r = entry.resource || {};
        const hint = resourceHint(r);
        const node = branch([el("span", { class: "rt", text: r.resourceType || "entry" }), " ",
                             el("span", { class: "rid", text: r.id || "" }), hint ? ` · ${hint}` : ""],
          () => Object.entries(r).map(([k, v]) => valueNodes(k, v)), false);
        node.classList.add("entry");
        return node;
      })], true);
  }

  function expandEntries(open) {
    for (const node of document.querySelectorAll("#bundle-tree details.entry")) node.open = open;
    say(open ? "Every entry expanded." : "Every entry collapsed.");
  }

  function downloadRecord() {
    const record = state.record;
    if (!record) return;
    const blob = new Blob([record.text], { type: "application/fhir+json" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `${record.nhs}-migrate-${record.sensitive ? "sensitive" : "not-sensitive"}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    say(`Downloading ${link.download}.`);
  }

  // --- flags -----------------------------------------------------------------------------------------
  async function refreshCatalogue() {
    state.catalogue = (await api("GET", "/_control/catalogue")).data;
    const select = $("#filter-interaction");
    if (select.options.length === 1) {
      for (const name of [...state.catalogue.interactions, ...(state.catalogue.lookup_interactions || [])]) {
        select.append(el("option", { value: name, text: name }));
      }
    }
  }

  async function loadFlags() {
    try {
      await refreshCatalogue();
      renderFlags();
    } catch (e) { fail(e.message); }
  }

  function flagControl(flag) {
    const id = "flag-" + flag.name;
    const describedBy = `${id}-doc ${id}-default`;
    if (flag.type === "boolean") {
      const state_ = el("span", { class: "switch-state", "aria-hidden": "true", text: flag.value ? "on" : "off" });
      return el("span", { class: "control" },
        el("input", { type: "checkbox", id, checked: !!flag.value, "aria-describedby": describedBy,
                      onchange: (e) => { state_.textContent = e.target.checked ? "on" : "off"; setFlag(flag, e.target.checked); } }),
        state_);
    }
    if (flag.type === "choice") {
      return el("span", { class: "control" },
        el("select", { id, "aria-describedby": describedBy, onchange: (e) => setFlag(flag, e.target.value) },
          flag.choices.map((c) => el("option", { value: c, text: c, selected: c === flag.value }))));
    }
    if (flag.type === "integer") {
      const input = el("input", { type: "number", id, min: "0", step: "1", value: String(flag.value), inputmode: "numeric",
                                  "aria-describedby": describedBy,
                                  onchange: (e) => {
                                    const n = Number(e.target.value);
                                    if (e.target.value === "" || !Number.isInteger(n) || n < 0) { fail(`${flag.name} takes a whole number >= 0`); return; }
                                    setFlag(flag, n);
                                  } });
      const shown = el("span", { class: "default", "aria-hidden": "true", text: bytes(flag.value).split(" (")[0] });
      input.addEventListener("input", () => { const n = Number(input.value); shown.textContent = Number.isInteger(n) && n >= 0 ? bytes(n).split(" (")[0] : ""; });
      return el("span", { class: "control" }, input, shown);
    }
    return el("span", { class: "control" }, el("input", { type: "text", id, value: flag.value, "aria-describedby": describedBy,
                                                          onchange: (e) => setFlag(flag, e.target.value) }));
  }

  function renderFlags() {
    const form = $("#flags-form");
    const groups = new Map();
    for (const flag of state.catalogue.flags) {
      if (!groups.has(flag.group)) groups.set(flag.group, []);
      groups.get(flag.group).push(flag);
    }
    form.replaceChildren(...[...groups].map(([group, flags]) => el("fieldset", {},
      el("legend", { text: group }),
      flags.map((flag) => {
        const id = "flag-" + flag.name;
        const def = flag.type === "integer" ? `${flag.default}` : String(flag.default);
        return el("div", { class: "flag" + (flag.value !== flag.default ? " changed" : ""), "data-flag": flag.name },
          el("label", { for: id, text: flag.name }),
          flagControl(flag),
          el("div", {},
            el("p", { class: "doc", id: `${id}-doc`, text: flag.doc }),
            el("p", { class: "doc default", id: `${id}-default`, text: `Start-up value: ${def}` })));
      }))));
    const tbody = $("#settings-table tbody");
    tbody.replaceChildren(...state.catalogue.settings.map((s) => el("tr", {},
      el("th", { scope: "row", class: "mono", text: s.env }),
      el("td", { class: "mono", text: String(s.value === "" ? "(empty)" : s.value) }),
      el("td", { text: s.doc }))));
  }

  async function setFlag(flag, value) {
    try {
      const { data } = await api("PATCH", "/_control/flags", { [flag.name]: value });
      flag.value = data[flag.name];
      const row = $(`[data-flag="${flag.name}"]`);
      if (row) row.classList.toggle("changed", flag.value !== flag.default);
      say(`${flag.name} is now ${JSON.stringify(flag.value)}; the next request sees it.`);
    } catch (e) {
      fail(e.message);
      await loadFlags();                           // show the live values again
      const again = $("#flag-" + flag.name);
      if (again) again.focus();
    }
  }

  // --- faults ----------------------------------------------------------------------------------------
  function faultForms() {
    const cat = state.catalogue.faults;
    const holder = $("#fault-forms");
    const chooser = el("fieldset", { class: "kinds" }, el("legend", { text: "Kind of fault" }),
      cat.kinds.map((kind, i) => el("div", { class: "kind" },
        el("input", { type: "radio", name: "fault-kind", id: `kind-${kind.kind}`, value: kind.kind, checked: i === 0,
                      "aria-describedby": `kind-${kind.kind}-doc`, onchange: () => showFaultForm(kind.kind) }),
        el("label", { for: `kind-${kind.kind}`, text: kind.kind }),
        el("span", { class: "note", id: `kind-${kind.kind}-doc`, text: kind.doc }))));
    const forms = cat.kinds.map((kind, i) => {
      const prefix = "fault-" + kind.kind;
      const fields = [];
      const names = new Set();
      for (const f of kind.fields) {
        names.add(f.name);
        if (kind.kind === "error" && f.name === "code") {
          fields.push(el("div", { class: "field" },
            el("label", { for: `${prefix}-answer`, text: "Answer" }),
            el("select", { id: `${prefix}-answer`, name: "answer", "aria-describedby": `${prefix}-answer-note` },
              el("optgroup", { label: "Spine error codes" },
                cat.spine_codes.map((c) => el("option", { value: "code:" + c.code, text: `${c.status} ${c.code}` }))),
              el("optgroup", { label: "Proxy failures" },
                cat.proxy_statuses.map((p) => el("option", { value: "status:" + p.status, text: `${p.status} ${p.display}` })))),
            el("span", { class: "note", id: `${prefix}-answer-note`, text: "a Spine code (status from the error table) or a proxy-style 502/503/504" })));
          continue;
        }
        if (kind.kind === "error" && f.name === "status") continue;
        fields.push(numberOrText(prefix, f, f.required === true));
      }
      for (const f of cat.common_fields) if (!names.has(f.name)) fields.push(numberOrText(prefix, f, false));
      const match = el("fieldset", { class: "match" }, el("legend", { text: "Match (optional): every field given must equal the request's" }),
        cat.match_fields.map((m) => {
          const id = `${prefix}-match-${m.name}`;
          const control = m.choices
            ? el("select", { id, name: "match." + m.name }, el("option", { value: "", text: "any" }),
                 m.choices.map((c) => el("option", { value: c, text: c })))
            : el("input", { type: "text", id, name: "match." + m.name, autocomplete: "off", spellcheck: "false",
                            inputmode: ["nhs_number", "from_asid"].includes(m.name) ? "numeric" : "text" });
          return el("div", { class: "field" }, el("label", { for: id }, m.name, " ", el("span", { class: "note", text: m.doc })), control);
        }));
      return el("form", { class: "fault-form", id: prefix, "aria-labelledby": `${prefix}-title`, novalidate: true, hidden: i !== 0,
                          onsubmit: (e) => { e.preventDefault(); addFault(kind.kind, e.target); } },
        el("h3", { id: `${prefix}-title`, text: `New ${kind.kind} rule` }),
        el("p", { class: "doc", text: kind.doc }),
        fields, match,
        el("button", { type: "submit", text: `Add ${kind.kind} rule` }));
    });
    holder.replaceChildren(chooser, ...forms);
  }

  function showFaultForm(kind) {
    for (const form of document.querySelectorAll(".fault-form")) form.hidden = form.id !== "fault-" + kind;
  }

  function numberOrText(prefix, f, required) {
    const id = `${prefix}-${f.name}`;
    if (f.choices) {                  // a closed list (e.g. a quirk): a select
      return el("div", { class: "field" },
        el("label", { for: id }, f.name, required ? " (required)" : "", " ", el("span", { class: "note", text: f.doc })),
        el("select", { id, name: f.name, required: required || null, "data-text": "" },
          f.choices.map((c) => el("option", { value: c, text: c }))));
    }
    const isText = f.name === "diagnostics";
    return el("div", { class: "field" },
      el("label", { for: id }, f.name, required ? " (required)" : "", " ", el("span", { class: "note", text: f.doc })),
      el("input", { id, name: f.name, type: isText ? "text" : "number", required: required || null,
                    min: isText ? null : (f.name === "times" || f.name === "duration_ms" ? "1" : "0"),
                    max: isText ? null : String(state.catalogue.faults.max_ms),
                    step: isText ? null : "1", inputmode: isText ? null : "numeric", autocomplete: "off" }));
  }

  async function addFault(kind, form) {
    const rule = { kind };
    const match = {};
    for (const control of form.elements) {
      if (!control.name || control.value === "") continue;
      if (control.name === "answer") {
        const [which, value] = control.value.split(":");
        rule[which] = which === "status" ? Number(value) : value;
      } else if (control.name.startsWith("match.")) {
        match[control.name.slice(6)] = control.value.trim();
      } else if (control.name === "diagnostics" || control.dataset.text !== undefined) {
        rule[control.name] = control.value;
      } else {
        rule[control.name] = Number(control.value);
      }
    }
    if (Object.keys(match).length) rule.match = match;
    try {
      const { data } = await api("POST", "/_control/faults", rule);
      say(`Added ${kind} rule ${data.id.slice(0, 8)}${data.remaining ? ` for ${data.remaining} use(s)` : ""}.`);
      await loadRules();
    } catch (e) {
      fail(e.message);
      const field = e.data && e.data.field;
      const target = field && form.querySelector(`[name="${field.startsWith("match.") ? field : field === "code" || field === "status" ? "answer" : field}"]`);
      if (target) target.focus();
    }
  }

  function ruleAnswer(rule) {
    const parts = [];
    if (rule.code) parts.push(rule.code);
    if (rule.status) parts.push(String(rule.status));
    if (rule.quirk) parts.push(rule.quirk);
    if (rule.ms !== undefined) parts.push(`wait ${rule.ms} ms`);
    if (rule.duration_ms !== undefined) parts.push(`over ${rule.duration_ms} ms`);
    if (rule.diagnostics) parts.push(`“${rule.diagnostics}”`);
    return parts.join(", ") || "—";
  }

  async function loadRules() {
    let rules;
    try {
      if (!state.catalogue) await refreshCatalogue();
      if (!$("#fault-forms").children.length) faultForms();
      var mine = (state.rulesAsked = (state.rulesAsked || 0) + 1);
      rules = (await api("GET", "/_control/faults")).data;
    } catch (e) { fail(e.message); return; }
    if (mine !== state.rulesAsked) return;       // a later load wins
    const tbody = $("#rules-table tbody");
    const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.rule : null;
    tbody.replaceChildren(...rules.map((rule) => el("tr", { "data-rule-row": rule.id },
      el("td", { class: "mono", text: rule.kind }),
      el("td", { text: ruleAnswer(rule) }),
      el("td", { text: rule.match ? Object.entries(rule.match).map(([k, v]) => `${k} = ${v}`).join("; ") : "every request" }),
      el("td", { class: "num", text: rule.remaining === null || rule.remaining === undefined ? "until deleted" : String(rule.remaining) }),
      el("td", {}, el("button", { type: "button", class: "secondary", "data-rule": rule.id,
                                  "aria-label": `Delete ${rule.kind} rule ${rule.id.slice(0, 8)}`,
                                  onclick: () => deleteRule(rule), text: "Delete" })))));
    $("#rules-empty").hidden = rules.length > 0;
    $("#rules-table").hidden = rules.length === 0;
    $("#rules-clear").hidden = rules.length === 0;
    if (focusedId) {
      const again = $(`[data-rule="${focusedId}"]`);
      if (again) again.focus();
    }
  }

  async function deleteRule(rule) {
    try {
      await api("DELETE", `/_control/faults/${encodeURIComponent(rule.id)}`);
      say(`Deleted ${rule.kind} rule ${rule.id.slice(0, 8)}.`);
    } catch (e) { fail(e.message); }
    await loadRules();
    $("#faults-heading").focus();
  }

  // --- journal ---------------------------------------------------------------------------------------
  function journalQuery() {
    const params = new URLSearchParams({ limit: "200" });
    for (const control of $("#journal-filters").elements) {
      if (control.name && control.value.trim()) params.set(control.name, control.value.trim());
    }
    return params.toString();
  }

  const rowKey = (r) => [r.time, r.worker, r.method, r.path, r.trace_id, r.status, r.ms].join("|");
  const spineCode = (r) => r.spine_code || r.error || "";

  function detailList(row) {
    const items = [];
    const add = (label, value) => { if (value !== undefined && value !== null && value !== "") items.push([label, value]); };
    add("Path", el("span", { class: "mono url", text: row.path }));
    add("Spine code", spineCode(row) || "none (not an error answer)");
    if (row.diagnostics) add("Diagnostics", el("p", { class: "diagnostics", text: row.diagnostics }));
    add("Findings", row.findings && row.findings.length ? el("ul", {}, row.findings.map((f) => el("li", { text: typeof f === "string" ? f : JSON.stringify(f) }))) : "none");
    if (row.fault) add("Fault", JSON.stringify(row.fault));
    const shown = new Set(["path", "error", "spine_code", "diagnostics", "findings", "fault"]);
    for (const [k, v] of Object.entries(row)) {
      if (!shown.has(k)) add(k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
    }
    return el("dl", { class: "facts" }, items.map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  }

  function journalRows(row, index) {
    const key = rowKey(row);
    const id = "journal-detail-" + (state.journalSeq = (state.journalSeq || 0) + 1);
    const status = row.status === null || row.status === undefined ? "none" : String(row.status);
    const time = (row.time || "").replace("T", " ").replace("Z", "").slice(11);
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false", "aria-controls": id,
                                  "aria-label": `Details of ${row.method} ${row.interaction || row.path} at ${time}, status ${status}` },
      el("span", { class: "chev", "aria-hidden": "true", text: "▸" }));
    const main = el("tr", { class: "journal-row", "data-key": key },
      el("td", {}, toggle),
      el("td", { class: "mono", text: time }),
      el("td", { class: "wide", text: row.method }),
      el("td", { text: row.interaction || "—" }),
      el("td", { class: "status-" + (status === "none" ? "none" : status[0]), text: status === "none" ? "no response" : status }),
      el("td", { class: "mono", text: spineCode(row) }),
      el("td", { class: "trace wide", text: row.trace_id || "" }),
      el("td", { class: "num wide", text: row.ms !== undefined ? String(row.ms) : "" }));
    const detail = el("tr", { class: "detail-row", id, hidden: true }, el("td", { colspan: "8" }, detailList(row)));
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      detail.hidden = !open;
      main.classList.toggle("open", open);
    });
    return [key, main, detail];
  }

  let journalFilter = null;
  async function loadJournal() {
    const query = journalQuery();
    const mine = (state.journalAsked = (state.journalAsked || 0) + 1);
    let rows;
    try {
      if (!state.catalogue) await refreshCatalogue();
      rows = (await api("GET", "/_control/requests?" + query)).data;
    } catch (e) { fail(e.message); return; }
    if (mine !== state.journalAsked) return;     // a later load (another filter, a poll) wins
    const tbody = $("#journal-table tbody");
    if (query !== journalFilter) {        // another filter: start again
      journalFilter = query;
      state.journalKeys.clear();
      tbody.replaceChildren();
    }
    // Newest first and append-only: add the new rows on top and drop those gone, without touching
    // the rest (an open row stays open and focus stays where it is).
    const fresh = new Set(rows.map(rowKey));
    for (const [key, nodes] of state.journalKeys) {
      if (!fresh.has(key)) { nodes.forEach((n) => n.remove()); state.journalKeys.delete(key); }
    }
    const anchor = tbody.firstChild;
    let added = 0;
    for (const row of rows) {
      const key = rowKey(row);
      if (state.journalKeys.has(key)) continue;
      const [, main, detail] = journalRows(row);
      tbody.insertBefore(main, anchor);
      tbody.insertBefore(detail, anchor);
      state.journalKeys.set(key, [main, detail]);
      added += 1;
    }
    const count = $("#journal-count");
    const text = rows.length ? `${rows.length} request${rows.length === 1 ? "" : "s"} shown.` : "No requests yet (or none match the filter).";
    if (count.textContent !== text) count.textContent = text;
    return added;
  }

  function setUpJournal() {
    $("#journal-filters").addEventListener("submit", (e) => { e.preventDefault(); loadJournal(); });
    for (const control of $("#journal-filters").elements) {
      if (control.tagName === "SELECT") control.addEventListener("change", () => loadJournal());
      if (control.type === "search") control.addEventListener("input", () => loadJournal());
    }
    $("#journal-live").addEventListener("change", (e) => { say(e.target.checked ? "Live updates on." : "Live updates paused."); schedule(); });
    $("#journal-clear").addEventListener("click", async () => {
      try {
        await api("DELETE", "/_control/requests");
        say("Journal cleared.");
        await loadJournal();
      } catch (e) { fail(e.message); }
    });
  }

  // --- start ------------------------------------------------------------------------------------------
  function start() {
    setUpReset();
    setUpJournal();
    $("#rules-clear").addEventListener("click", async () => {
      try {
        const { data } = await api("DELETE", "/_control/faults");
        say(`Deleted ${data.deleted} rule(s).`);
        await loadRules();
      } catch (e) { fail(e.message); }
    });
    $("#persona-search").addEventListener("input", renderPersonaList);
    document.addEventListener("visibilitychange", schedule);
    window.addEventListener("hashchange", () => showView(location.hash.slice(1), true));
    loadHealth();
    loadPersonas();
    refreshCatalogue().catch((e) => fail(e.message));
    showView(location.hash.slice(1) || "personas", false);
  }
  start();
}());
