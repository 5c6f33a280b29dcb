/* mockprovider console, the Practices view: the practices registry behind the provider, SDS and PDS.
 * Over the public control API only (GET /_control/practices, GET /_control/practices/{ods}); loaded
 * when console.js shows the view (the "console:view" event). Text from the server is always set as
 * text, never as HTML. */
"use strict";

(function () {
  const { el, $, fail, api, listItem, openItem } = window.consoleKit;   // console-kit.js
  const state = { registry: null, selected: null };

  function json(value) {
    return el("pre", { class: "json", tabindex: "0" }, JSON.stringify(value, null, 2));
  }

  function badge(text, kind) { return el("span", { class: "tag" + (kind ? " " + kind : ""), text }); }

  async function load() {
    try {
      state.registry = (await api("GET", "/_control/practices")).data;
    } catch (e) { fail(e.message); return; }
    const list = $("#practice-list");
    list.replaceChildren(...state.registry.practices.map((p) => listItem({
      key: "ods", value: p.ods, current: state.selected === p.ods, onopen: () => open(p.ods, true),
      id: p.ods + (p.default ? " (default)" : ""), name: p.name,
      summary: [p.supplier, `${p.personas.length} persona(s)`, ...p.quirks].join(", ") })));
    $("#consumer-list").replaceChildren(...state.registry.consumers.map((c) => el("li", {},
      el("span", { class: "mono", text: `${c.ods} · ASID ${c.asid}` }), " ", c.name)));
    if (state.selected) open(state.selected, false);
  }

  async function open(ods, moveFocus) {
    state.selected = ods;
    const pane = $("#practice-detail");
    const p = await openItem({ list: "#practice-list", key: "ods", value: ods, pane,
                               path: `/_control/practices/${encodeURIComponent(ods)}` });
    if (!p) return;                              // failed (the pane says why) or another was chosen
    const heading = el("h2", { id: "practice-name", tabindex: "-1", text: `${p.name} · ${p.ods}` });
    const facts = el("dl", { class: "facts" },
      el("dt", { text: "ASID" }), el("dd", { class: "mono", text: p.asid }),
      el("dt", { text: "Party key" }), el("dd", { class: "mono", text: p.party_key }),
      el("dt", { text: "MHS id" }), el("dd", { class: "mono", text: p.mhs_id }),
      el("dt", { text: "Supplier" }), el("dd", { text: `${p.supplier} (manufacturer ${p.manufacturer})` }),
      el("dt", { text: "Host" }), el("dd", { text: p.host || "the host the consumer called" }),
      el("dt", { text: "On SDS" }), el("dd", { text: p.on_sds ? "yes" : "no (PDS only)" }),
      el("dt", { text: "Quirks" }), el("dd", {}, p.quirks.length ? p.quirks.map((q) => badge(q, "warn")) : "none"));
    const sds = el("section", { "aria-labelledby": "sds-heading" },
      el("h3", { id: "sds-heading", text: "What SDS answers" }),
      p.sds.length ? el("div", { class: "table-wrap", role: "region", "aria-label": "SDS answers", tabindex: "0" },
        el("table", { class: "sds-table" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Interaction" }),
            el("th", { scope: "col", text: "Endpoint address" }), el("th", { scope: "col", text: "Device ASID" }))),
          el("tbody", {}, p.sds.map((a) => el("tr", {},
            el("td", { text: a.interaction }),
            el("td", { class: "mono", text: a.endpoint.total ? a.endpoint.entry.map((e) => e.resource.address).join(" · ") : "(no Endpoint)" }),
            el("td", { class: "mono", text: a.device.total ? a.device.entry.map((e) => e.resource.identifier[0].value).join(" · ") : "(no Device)" })))))) : null,
      p.sds.map((a) => el("details", { class: "sds-answer" },
        el("summary", { text: `${a.interaction}: Device and Endpoint searchsets` }),
        el("h4", { text: "GET /Device" }), json(a.device), el("h4", { text: "GET /Endpoint" }), json(a.endpoint))));
    const personas = el("section", { "aria-labelledby": "pds-heading" },
      el("h3", { id: "pds-heading", text: "Its patients on PDS" }),
      p.personas.length ? el("ul", { class: "pds-list" }, p.personas.map((v) => el("li", {},
        el("details", { class: "pds-view" },
          el("summary", {}, el("span", { class: "mono", text: v.nhs_number }), ` ${v.name} · PDS ${v.pds.status}`,
             v.pds.code ? ` ${v.pds.code}` : "", v.pds.state && v.pds.state !== "present" ? ` (${v.pds.state})` : ""),
          json(v.pds.body))))) : el("p", { class: "hint", text: "No persona lives at this practice." }));
    pane.replaceChildren(heading, facts, sds, personas);
    if (moveFocus) heading.focus();
  }

  document.addEventListener("console:view", (event) => { if (event.detail === "practices") load(); });
  // console.js (loaded first) may have shown this view before this script was listening
  if (!$("#view-practices").hidden) load();
}());
