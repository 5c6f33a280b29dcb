/* mockprovider console kit: the few helpers every console script shares, each written once here.
 * index.html loads it first; console.js, lookups.js and retrieve-query.js take what they need from
 * window.consoleKit. It alone reads the control token (the page's <meta> element, filled in by the
 * server when MOCKPROVIDER_CONTROL_TOKEN is set) and sends it as "Authorization: Bearer" on control
 * calls. Text from the server is always set as text, never as HTML. */
"use strict";

window.consoleKit = (function () {
  const TOKEN = (document.querySelector('meta[name="mockprovider-control-token"]') || {}).content || "";

  // el("button", { type: "button", class: "x", text: "Go", onclick: fn }, child, [more children]):
  // "text" sets textContent, "on…" adds a listener, a non-string value of a DOM property (checked,
  // hidden, open) sets the property; null, undefined and false leave the attribute out.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (selector, root) => (root || document).querySelector(selector);

  function say(message) {            // polite status for everyone, screen readers included
    const status = $("#status");
    status.textContent = "";
    window.setTimeout(() => { status.textContent = message; }, 30);
    $("#alert").hidden = true;
  }
  function fail(message) {
    const alert = $("#alert");
    alert.textContent = message;
    alert.hidden = false;
  }

  // One call to the control API with the token; never throws for an HTTP status: the answer's
  // status, raw text and parsed JSON (null when it is not JSON). A network failure still throws.
  async function send(method, path, body, accept) {
    const headers = { "Accept": accept || "application/json" };
    if (TOKEN) headers["Authorization"] = "Bearer " + TOKEN;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, cache: "no-store",
                                         body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    return { status: response.status, ok: response.ok, text, data };
  }

  // The same, for the usual case: a 4xx/5xx throws an Error saying the call, the status and the
  // server's reason (its "error" and "field"), with .status and .data for the caller.
  async function api(method, path, body) {
    const answer = await send(method, path, body);
    if (!answer.ok) {
      const { data, text } = answer;
      const why = data && data.error ? data.error + (data.field ? " (field: " + data.field + ")" : "") : text.slice(0, 200);
      const error = new Error(`${method} ${path}: ${answer.status} ${why}`);
      error.status = answer.status;
      error.data = data;
      throw error;
    }
    return { data: answer.data, text: answer.text };
  }

  // One entry in a list-and-detail view's list (class persona-list): a button carrying data-<key>
  // (what openItem marks), aria-current when it is the open item, and three lines: an id, a name
  // and a summary.
  function listItem({ key, value, current, onopen, id, name, summary }) {
    return el("li", {},
      el("button", { type: "button", ["data-" + key]: value, "aria-current": current ? "true" : null, onclick: onopen },
        el("span", { class: "nhs", text: id }),
        el("span", { class: "name", text: name }),
        el("span", { class: "tags", text: summary })));
  }

  // A list-and-detail view opens one item: its button in the list (data-<key> = value) is marked
  // aria-current, the detail pane says "Loading <value>…", then GET path fetches the item. Returns
  // the JSON, or null when the call failed (the pane then shows why) or when the same pane was
  // asked for another item meanwhile (the later choice wins).
  const latest = new WeakMap();
  async function openItem({ list, key, value, pane, path }) {
    for (const button of document.querySelectorAll(list + " button")) {
      if (button.dataset[key] === value) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    const ticket = (latest.get(pane) || 0) + 1;
    latest.set(pane, ticket);
    pane.replaceChildren(el("p", { class: "hint", text: `Loading ${value}…` }));
    let data;
    try {
      data = (await api("GET", path)).data;
    } catch (e) {
      if (latest.get(pane) === ticket) pane.replaceChildren(el("p", { class: "alert", text: e.message }));
      return null;
    }
    return latest.get(pane) === ticket ? data : null;
  }

  // "Patient 1, AllergyIntolerance 3, List 2": a Bundle's resources counted by type, each type where
  // it first appears.
  function typeCounts(bundle) {
    const counts = {};
    for (const entry of bundle.entry || []) {
      const type = entry.resource && entry.resource.resourceType;
      counts[type] = (counts[type] || 0) + 1;
    }
    return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ");
  }

  return Object.freeze({ el, $, say, fail, send, api, listItem, openItem, typeCounts });
}());
