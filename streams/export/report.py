"""The SLO review report as Markdown (for a review document or a ticket) and as one HTML file
(with a chart per SLO; no script, no CDN: it opens offline and prints). Both say the same
things from the same tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

from streams.core.durations import window_label
from streams.core.review import ReviewRule, SloReview
from streams.core.timestamps import iso, minute_utc

Table = tuple[list[str], list[list[str]]]  # header, rows


def _day(t: float) -> str:
    return (iso(t) or "")[:10]


def _when(t: float | None) -> str:
    return "still firing" if t is None else minute_utc(t)


def _pct(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v * 100:.{digits}f} %"


def _span(seconds: float) -> str:
    s = round(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def verdict_text(flag: str | None) -> str:
    return {"lenient": "▼ re-evaluate: too lenient?", "chronic": "▲ re-evaluate: too strict?"}.get(
        flag or "", "keep the target"
    )


def summary(reviews: Sequence[SloReview], rule: ReviewRule) -> Table:
    head = [
        "SLO",
        "target",
        "SLI achieved",
        "budget spent",
        "incidents",
        "pages",
        "tickets",
        "recommendation",
    ]
    rows = []
    for r in reviews:
        whole = r.totals()
        flag, _ = r.recommendation(rule)
        rows.append(
            [
                r.slo.id,
                _pct(float(r.slo.target)),
                _pct(whole.achieved(), 4),
                _pct(whole.spent(r.slo), 1),
                str(len(r.incidents)),
                str(r.pages),
                str(r.tickets),
                verdict_text(flag),
            ]
        )
    return head, rows


def sections(r: SloReview) -> list[tuple[str, Table]]:
    """The tables of one SLO, titled."""
    periods = [
        [
            f"{_day(p.start)} to {_day(p.end)}",
            _pct(p.achieved(), 4),
            _pct(p.spent(r.slo), 1),
            f"{p.bad} / {p.total}",
        ]
        for p in r.periods
    ]
    incidents = [
        [_when(i.start), _when(i.end), i.first_rule, str(i.pages), str(i.tickets)]
        for i in r.incidents
    ]
    span = sum(r.decision_s.values())
    gate = [
        [d.replace("_", " "), _span(s), _pct(s / span, 1)]
        for d, s in sorted(r.decision_s.items(), key=lambda x: -x[1])
    ]
    return [
        (
            "Periods (one SLO window each)",
            (["period", "SLI achieved", "budget spent", "bad / total"], periods),
        ),
        (
            "Incidents (first alert to last resolve)",
            (["first alert", "resolved", "first rule", "pages", "tickets"], incidents),
        ),
        (
            "Release gate (the service's): time in each decision",
            (["decision", "time", "share"], gate),
        ),
        ("Overrides", (["override"], [[o] for o in r.overrides])),
        ("Exclusions", (["exclusion"], [[e] for e in r.exclusions])),
    ]


def title(reviews: Sequence[SloReview]) -> str:
    if not reviews:
        return "SLO review: no data"
    return f"SLO review {_day(reviews[0].start)} to {_day(reviews[0].end)}"


def rule_text(rule: ReviewRule) -> str:
    return (
        f"Review rule: judged on {window_label(rule.span_s)} of history or more. Too lenient: "
        f"no period spent {rule.lenient_below:.0%} of its budget. Too strict: "
        f"{rule.chronic_at:.0%} of periods or more over budget."
    )


def markdown(reviews: Sequence[SloReview], rule: ReviewRule) -> str:
    """The report as Markdown."""
    out = [f"# {title(reviews)}", "", rule_text(rule), "", *_md(summary(reviews, rule))]
    for r in reviews:
        flag, why = r.recommendation(rule)
        out += [
            "",
            f"## {r.slo.id}",
            "",
            f"Target {_pct(float(r.slo.target))} over {r.slo.window_label} ({r.slo.sli_type}).",
            "",
            f"**{verdict_text(flag)}** — {why}.",
        ]
        for name, table in sections(r):
            out += ["", f"### {name}", "", *(_md(table) if table[1] else ["none"])]
    return "\n".join(out) + "\n"


def _md(table: Table) -> list[str]:
    head, rows = table
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def _html_table(table: Table) -> str:
    head, rows = table
    if not rows:
        return "<p>none</p>"
    th = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def spent_chart(r: SloReview, rule: ReviewRule) -> str:
    """Budget spent per period as labelled bars, with the whole budget and the lenient line."""
    w, h, left, bottom = 640, 180, 48, 28
    top = max([1.2, *(p.spent(r.slo) * 1.1 for p in r.periods)])

    def y(v: float) -> float:
        return h - bottom - (h - bottom - 12) * v / top

    n = max(1, len(r.periods))
    bw = (w - left - 10) / n
    parts = [
        f"<svg viewBox='0 0 {w} {h}' role='img' class='chart' aria-label='budget spent "
        f"per period of {html.escape(r.slo.id)}'>"
    ]
    for v, name in ((1.0, "budget"), (rule.lenient_below, "lenient")):
        parts.append(
            f"<line x1='{left}' x2='{w - 10}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
            f"class='limit'/><text x='{left - 4}' y='{y(v) + 4:.1f}' "
            f"text-anchor='end'>{name}</text>"
        )
    for i, p in enumerate(r.periods):
        s, x = p.spent(r.slo), left + i * bw
        cls = "over" if s > 1 else "bar"
        parts.append(
            f"<rect x='{x + 2:.1f}' y='{y(s):.1f}' width='{max(1, bw - 4):.1f}' "
            f"height='{y(0) - y(s):.1f}' class='{cls}'/><text x='{x + bw / 2:.1f}' "
            f"y='{y(s) - 3:.1f}' text-anchor='middle'>{s:.0%}{' ▲' if s > 1 else ''}"
            f"</text><text x='{x + bw / 2:.1f}' y='{h - 10}' text-anchor='middle'>"
            f"{_day(p.start)[5:]}</text>"
        )
    return "".join(parts) + "</svg>"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #e6edf3; background: #0d1117; } }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #8c959f66; padding: 3px 10px; text-align: left; }
svg.chart { width: 640px; max-width: 100%; } svg text { fill: currentColor; font-size: 11px; }
.bar { fill: #0969da; } .over { fill: #cf222e; } .limit { stroke: #9a6700; stroke-dasharray: 5 4; }
"""


def html_report(reviews: Sequence[SloReview], rule: ReviewRule) -> str:
    """The report as one HTML file."""
    t = html.escape(title(reviews))
    out = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{t}</title>"
        f"<style>{STYLE}</style></head><body><h1>{t}</h1>"
        f"<p>{html.escape(rule_text(rule))}</p>",
        _html_table(summary(reviews, rule)),
    ]
    for r in reviews:
        flag, why = r.recommendation(rule)
        out.append(
            f"<section data-slo='{html.escape(r.slo.id)}'><h2>{html.escape(r.slo.id)}</h2>"
            f"<p><strong data-flag='{flag or ''}'>{html.escape(verdict_text(flag))}"
            f"</strong> — {html.escape(why)}.</p>{spent_chart(r, rule)}"
        )
        for name, table in sections(r):
            out.append(f"<h3>{html.escape(name)}</h3>{_html_table(table)}")
        out.append("</section>")
    return "".join(out) + "</body></html>\n"
