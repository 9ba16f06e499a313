"""``sloburn status`` lays out what /v1/slos says: budget left, 1h and 6h burn, what fires, and
SLOs without data yet."""

from __future__ import annotations

from streams.cli.status import rows, table

FIRING = {
    "id": "checkout-api:success_rate",
    "service": "checkout-api",
    "target": 0.999,
    "window": "30d",
    "no_data": False,
    "budget": {"remaining": 0.4213},
    "windows": [{"window_s": 3600, "burn_rate": 15.25}, {"window_s": 21600, "burn_rate": 3.5}],
    "alerts": [
        {"rule": "page_1h_5m", "severity": "page", "firing": True},
        {"rule": "ticket_1d_2h", "severity": "ticket", "firing": False},
    ],
}
NEW = {"id": "search-api:latency", "service": "search-api", "target": 0.99, "window": "30d"}


def test_rows_show_budget_burn_and_what_fires() -> None:
    header, firing, new = rows([FIRING, NEW])
    assert header[:3] == ["SLO", "TARGET", "BUDGET LEFT"]
    assert firing == [
        "checkout-api:success_rate",
        "99.9 % / 30d",
        "42.1 %",
        "15.25x",
        "3.50x",
        "page_1h_5m (page)",
    ]
    assert new[2] == "no data yet"


def test_columns_line_up() -> None:
    lines = table(rows([FIRING, NEW])).splitlines()
    assert len(lines) == 3
    assert lines[0].index("FIRING") == lines[1].index("page_1h_5m")
    assert lines[0].index("TARGET") == lines[1].index("99.9") == lines[2].index("99 %")
    # Numbers are right-aligned: the budgets end where their header does.
    end = lines[0].index("BUDGET LEFT") + len("BUDGET LEFT")
    assert lines[1][:end].endswith("42.1 %") and lines[2][:end].endswith("no data yet")
