"""What ``make bench`` reports: each target PASS, MISS or N/A, and the table (also the docs' table:
``tools/docs_generate.py`` renders ``bench/results.json`` with ``table``).

Ratio = product / baseline: for requests/s and MB/s higher is better, for ms, CPU and seconds
lower is better. The stores' rows compare the Redis store (Product column) with SQLite (Baseline).
"""
from __future__ import annotations

from bench.harness import MB, PERSONA_COUNT, ratio
from bench.scenarios import stores


def find_load(results, case, conns):
    for entry in results.get("load", []):
        if entry["case"] == case and entry["connections"] == conns:
            return entry
    return None


def targets(results: dict) -> list[dict]:
    out = []

    def add(name, value, limit, ok, unit="", missing=None):
        if value is None:
            out.append({"target": name, "status": "N/A", "value": None, "limit": limit,
                        "note": missing or "not measured"})
        else:
            out.append({"target": name, "status": "PASS" if ok(value) else "MISS", "value": value,
                        "limit": limit, "unit": unit})

    why_structured = "migrate structured answers " + str(results.get("structured_unavailable", "?"))
    for which in ("largest", "typical"):
        e = find_load(results, f"structured_{which}", 16)
        add(f"structured {which} c16: throughput >= 0.8 x baseline", e and e["ratio"]["rps"], 0.8,
            lambda v: v >= 0.8, "x", why_structured)
        add(f"structured {which} c16: p99 <= 2 x baseline p99", e and e["ratio"]["p99"], 2.0,
            lambda v: v <= 2.0, "x", why_structured)
    why_wm = results.get("wiremock_unavailable", "not measured")
    for e in results.get("wiremock", []) or [None, None]:
        mode = "keep-alive" if e is None or e["keepalive"] else "no keep-alive"
        for name in ("wiremock", "wiremock_no_journal"):
            value = e and e["ratio"].get(name, {}).get("rps")
            add(f"structured typical c16 ({mode}): >= 1.5 x {name}", value, 1.5, lambda v: v >= 1.5, "x", why_wm)
        value = e and e["ratio"].get("baseline", {}).get("rps")
        add(f"structured typical c16 ({mode}): >= 0.8 x baseline", value, 0.8, lambda v: v >= 0.8, "x", why_wm)
    g = find_load(results, "gate_bad_ssp_to", 1)
    add("gate + control state: extra CPU <= 120 us/request",
        g and round(g["product"]["cpu_us_per_request"] - g["baseline"]["cpu_us_per_request"], 1), 120,
        lambda v: v <= 120, "us")
    sr = results.get("slow_readers")
    for probe in ("health", "structured_typical"):
        value = sr and probe in sr and round(sr[probe]["p99_us"] / 1000, 1)
        add(f"64 slow readers of 100 MB: {probe} p99 <= 100 ms", value or None, 100, lambda v: v <= 100, "ms",
            "no 100 MB document or no migrate structured")
    s100 = next((s for s in results.get("stream", []) if s["case"] == "binary_100mb"), None)
    why_binary = "no document of 5-100 MiB reachable yet"
    add("binary 100 MB: MB/s >= 0.9 x baseline", s100 and s100["ratio"]["mb_s"], 0.9, lambda v: v >= 0.9, "x",
        why_binary)
    add("binary 100 MB: worker peak RSS growth <= 32 MB",
        s100 and round(s100["product"]["rss_growth_max"] / MB, 1), 32, lambda v: v <= 32, "MB", why_binary)
    cs = results.get("cold_start")
    add("cold start <= 1.5 x minimal Flask app", cs and cs["ratio"], 1.5, lambda v: v <= 1.5, "x")
    pe = results.get("personas", {})
    why_personas = "; ".join(pe.get("unavailable", [])) or "not measured"
    add(f"{PERSONA_COUNT} personas: generation <= 60 s", pe.get("generation_s") and round(pe["generation_s"], 1),
        60, lambda v: v <= 60, "s", why_personas)
    add(f"{PERSONA_COUNT} personas: cold start <= 2 s", pe.get("cold_start_s") and round(pe["cold_start_s"], 2),
        2, lambda v: v <= 2, "s", why_personas)
    mem = pe.get("memory")
    add(f"{PERSONA_COUNT} personas: RSS <= 300 MB (largest process)", mem and round(mem["rss_max"] / MB, 1),
        300, lambda v: v <= 300, "MB", why_personas)
    return out


def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value >= 1000 else f"{value:.3g}" if value < 10 else f"{value:.1f}"
    else:
        text = f"{value:,}"
    return text + unit


def table(results: dict) -> str:
    rows = [("Scenario", "Metric", "Product", "Baseline", "Ratio")]
    labels = {"gate_bad_ssp_to": "gate: bad Ssp-To (400)", "metadata": "metadata (full gate, 200)",
              "structured_typical": "migrate structured, typical", "structured_largest": "migrate structured, largest",
              "retrieve_typical": "retrieve structured (allergies, medication, problems), typical"}
    who = results.get("structured_personas", {})
    for which in ("typical", "largest"):
        if which in who:
            labels[f"structured_{which}"] += f" ({who[which]['nhs']}, {who[which]['bytes'] / 1000:,.0f} kB)"
    if "typical" in who:
        labels["retrieve_typical"] += f" ({who['typical']['nhs']})"
    for e in results.get("load", []):
        name = f"{labels.get(e['case'], e['case'])} c{e['connections']}"
        p, b, r = e["product"], e["baseline"], e["ratio"]
        rows.append((name, "requests/s", fmt(p["rps"]), fmt(b["rps"]), fmt(r["rps"], "x")))
        rows.append(("", "p50 ms", fmt(p["p50_us"] / 1000), fmt(b["p50_us"] / 1000), fmt(r["p50"], "x")))
        rows.append(("", "p99 ms", fmt(p["p99_us"] / 1000), fmt(b["p99_us"] / 1000), fmt(r["p99"], "x")))
        if r.get("cpu_per_request"):
            rows.append(("", "server CPU us/request", fmt(p["cpu_us_per_request"]), fmt(b["cpu_us_per_request"]),
                         fmt(r["cpu_per_request"], "x")))
        if e["case"] == "gate_bad_ssp_to" and e["connections"] == 1:
            rows.append(("", "gate + control state: extra CPU us/request",
                         fmt(p["cpu_us_per_request"] - b["cpu_us_per_request"]), "", ""))
            rows.append(("", "gate + control state: extra p50 us", fmt(p["p50_us"] - b["p50_us"]), "", ""))
    for e in results.get("wiremock", []):
        name = f"migrate structured, typical c16, keep-alive {'on' if e['keepalive'] else 'off'}"
        for side in ("wiremock", "wiremock_no_journal"):
            if side not in e:
                continue
            label = "WireMock" if side == "wiremock" else "WireMock --no-request-journal"
            rows.append((name, f"requests/s vs {label}", fmt(e["product"]["rps"]), fmt(e[side]["rps"]),
                         fmt(e["ratio"][side]["rps"], "x")))
            rows.append(("", f"p99 ms vs {label}", fmt(e["product"]["p99_us"] / 1000), fmt(e[side]["p99_us"] / 1000),
                         fmt(e["ratio"][side]["p99"], "x")))
            name = ""
        rows.append(("", "requests/s vs baseline", fmt(e["product"]["rps"]), fmt(e["baseline"]["rps"]),
                     fmt(e["ratio"]["baseline"]["rps"], "x")))
        if "floor" in e:
            # bench/floor.py served: the essential steps only (the Product column is the floor here).
            rows.append(("", "requests/s vs essential floor", fmt(e["product"]["rps"]), fmt(e["floor"]["rps"]),
                         fmt(e["ratio"]["floor"]["rps"], "x")))
            rows.append(("", "essential floor: requests/s vs baseline", fmt(e["floor"]["rps"]),
                         fmt(e["baseline"]["rps"]), fmt(ratio(e["floor"]["rps"], e["baseline"]["rps"]), "x")))
    sr = results.get("slow_readers")
    if sr:
        for probe in ("health", "structured_typical"):
            if probe in sr:
                rows.append((f"while 64 clients read 100 MB slowly: {probe} c1", "p50 / p99 ms",
                             f"{fmt(sr[probe]['p50_us'] / 1000)} / {fmt(sr[probe]['p99_us'] / 1000)}", "", ""))
    for s in results.get("stream", []):
        name = (f"Binary {s['document_bytes'] / 2 ** 20:.1f} MiB "
                f"({'migrate' if 'migrate' in s['interaction'] else 'retrieve'})")
        rows.append((name, "MB/s (wire)", fmt(s["product"]["mb_s"]), fmt(s["baseline"]["mb_s"]),
                     fmt(s["ratio"]["mb_s"], "x")))
        rows.append(("", "peak RSS growth MB", fmt(s["product"]["rss_growth_max"] / MB),
                     fmt(s["baseline"]["rss_growth_max"] / MB), ""))
    largest = who.get("largest")
    if largest and "first_s" in largest:
        # The heaviest persona (a supplier-shaped long-term record): what its first request costs.
        rows.append((f"migrate structured, largest ({largest['nhs']})", "Bundle MB / resources",
                     f"{largest['bytes'] / MB:.2f} / {largest.get('resources', 0):,}", "", ""))
        rows.append(("", "first request (build) s", fmt(largest["first_s"]), "", ""))
        after = results.get("product_memory_after_load") or {}
        if after.get("rss_max"):
            rows.append(("", "worker RSS MB after load (largest process)", fmt(after["rss_max"] / MB), "", ""))
    cs = results.get("cold_start")
    if cs:
        rows.append((f"cold start, median of {cs.get('runs', 1)} (minimal Flask app)", "seconds", fmt(cs["product_s"]),
                     fmt(cs["baseline_s"]), fmt(cs["ratio"], "x")))
    pe = results.get("personas", {})
    if "generation_s" in pe:
        rows.append((f"{pe['count']} generated personas", "generation s", fmt(pe["generation_s"]), "", ""))
        rows.append(("", f"cold start s (median of {len(pe['cold_start_runs'])})", fmt(pe["cold_start_s"]), "", ""))
        rows.append(("", "RSS MB largest process", fmt(pe["memory"]["rss_max"] / MB), "", ""))
        rows.append(("", "PSS MB all processes", fmt(pe["memory"]["pss_total"] / MB), "", ""))
    rows += stores.rows(results, fmt)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    lines.append("")
    lines.append("Ratio = product / baseline: for requests/s and MB/s higher is better, for ms, CPU and "
                 "seconds lower is better.")
    lines.append("")
    for t in results["targets"]:
        if t["status"] == "N/A":
            lines.append(f"- N/A  {t['target']} ({t['note']})")
        else:
            lines.append(f"- {t['status']} {t['target']}: {fmt(t['value'])}{t.get('unit', '')}")
    return "\n".join(lines)
