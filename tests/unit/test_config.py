"""Config loading: both seed formats onto one model, and every problem as one readable line."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from streams.config.errors import ConfigError
from streams.config.loading import load_config
from streams.config.model import Config
from streams.core.slo import AlertRule
from tests.conftest import BAD_SERVICE_MAP, sloburn

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "configs/slo_config.yaml", ROOT / "configs/error-budget-policy.yaml"]

SEED_SERVICE_MAP = """\
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
    alerts:
      fast_burn:
        window_minutes: 5
        threshold: 14.4
      slow_burn:
        window_minutes: 60
        threshold: 6
      critical_burn:
        window_minutes: 1440
        threshold: 3
"""

SEED_POLICY = """\
policy:
  version: "1.0"
  evaluation_interval: 1m
  services:
    - name: payment-gateway
      sli:
        metric: http_request_duration_seconds_bucket
        le: 0.5
        label: status_code
        success_values: ["200", "201"]
      slo:
        target: 0.9995
        window_days: 30
      burn_rates:
        fast:
          window_minutes: 5
          multiplier: 14.4
        slow:
          window_minutes: 60
          multiplier: 6
        critical:
          window_minutes: 1440
          multiplier: 3
      enforcement:
        release_gate:
          threshold_pct: 20
          action: block
          approval_override: true
        feature_flag:
          auto_rollback: true
          burn_threshold: 10.0
        notification:
          channels:
            - slack:#reliability
            - pagerduty:escalation-tier-2
          when: ["fast_burn", "budget_exhausted"]
"""

CHECKOUT_ONLY = """\
services:
  checkout-api:
    sli_type: success_rate
    target: 0.999
    window_days: 30
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(*paths: Path, env: dict[str, str] | None = None) -> list[str]:
    """The ConfigError lines for these files (fails the test if they load)."""
    with pytest.raises(ConfigError) as exc:
        load_config(paths, env=env or {})
    return exc.value.lines


# ---------------------------------------------------------------------------------------------
# The shipped configs


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(SHIPPED, env={})


def test_shipped_configs_define_checkout_search_and_payment_slos(shipped: Config) -> None:
    assert [s.id for s in shipped.slos] == [
        "checkout-api:success_rate",
        "search-api:latency",
        "payment-gateway:latency",
    ]
    assert shipped.services == ("checkout-api", "payment-gateway", "search-api")


def test_shipped_targets_are_exact_fractions(shipped: Config) -> None:
    targets = {s.id: s.target for s in shipped.slos}
    assert targets == {
        "checkout-api:success_rate": Fraction(999, 1000),
        "search-api:latency": Fraction(99, 100),
        "payment-gateway:latency": Fraction(1999, 2000),
    }
    assert all(type(t) is Fraction for t in targets.values())


def test_payment_gateway_le_half_second_is_a_500_ms_threshold_on_200_and_201(
    shipped: Config,
) -> None:
    pg = shipped.slo("payment-gateway:latency")
    assert pg is not None
    assert pg.sli_type == "latency"
    assert pg.latency_threshold_ms == 500.0
    assert pg.success_codes == frozenset({200, 201})
    assert pg.is_success(201) and not pg.is_success(204)


def test_payment_gateway_burn_rates_keep_their_explicit_short_windows(shipped: Config) -> None:
    pg = shipped.slo("payment-gateway:latency")
    assert pg is not None
    assert pg.alerts == (
        AlertRule("fast", "page", 3600, 300, Fraction("14.4")),
        AlertRule("slow", "page", 21600, 1800, Fraction(6)),
        AlertRule("critical", "ticket", 86400, 7200, Fraction(3)),
    )


def test_search_api_latency_threshold_and_rules(shipped: Config) -> None:
    search = shipped.slo("search-api:latency")
    assert search is not None
    assert search.latency_threshold_ms == 300.0
    assert search.success_codes is None
    assert search.window_days == 28
    assert search.alerts == (
        AlertRule("fast_burn", "page", 3600, 300, Fraction("14.4")),
        AlertRule("slow_burn", "page", 21600, 1800, Fraction(6)),
        AlertRule("budget_drain", "ticket", 86400, 7200, Fraction(3)),
    )


def test_shipped_receivers_are_disabled_when_env_is_empty(shipped: Config) -> None:
    assert shipped.notifications.slack_webhook_url == ""
    assert shipped.notifications.pagerduty_routing_key == ""
    assert shipped.notifications.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
    assert shipped.settings.bucket_seconds == 10


# ---------------------------------------------------------------------------------------------
# The seed document's formats, verbatim


def test_seed_service_map_loads_with_short_windows_a_twelfth_rounded_up_to_buckets(
    tmp_path: Path,
) -> None:
    cfg = load_config([write(tmp_path, "slo_config.yaml", SEED_SERVICE_MAP)], env={})
    checkout = cfg.slo("checkout-api:success_rate")
    assert checkout is not None
    assert checkout.target == Fraction(999, 1000)
    assert checkout.window_days == 30
    # 300 s / 12 = 25 s, rounded up to whole 10-s buckets = 30 s.
    assert checkout.alerts == (
        AlertRule("fast_burn", "page", 300, 30, Fraction("14.4")),
        AlertRule("slow_burn", "page", 3600, 300, Fraction(6)),
        AlertRule("critical_burn", "ticket", 86400, 7200, Fraction(3)),
    )


def test_seed_threshold_of_6_or_more_pages_and_below_6_tickets(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "slo_config.yaml", SEED_SERVICE_MAP)], env={})
    checkout = cfg.slo("checkout-api:success_rate")
    assert checkout is not None
    assert [(r.name, r.severity) for r in checkout.alerts] == [
        ("fast_burn", "page"),
        ("slow_burn", "page"),
        ("critical_burn", "ticket"),
    ]


def test_seed_policy_document_loads_with_multiplier_burn_rates(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "error-budget-policy.yaml", SEED_POLICY)], env={})
    assert [s.id for s in cfg.slos] == ["payment-gateway:latency"]
    pg = cfg.slos[0]
    assert pg.service == "payment-gateway"
    assert pg.target == Fraction(1999, 2000)
    assert pg.window_days == 30
    assert pg.latency_threshold_ms == 500.0
    assert pg.success_codes == frozenset({200, 201})
    assert pg.alerts == (
        AlertRule("fast", "page", 300, 30, Fraction("14.4")),
        AlertRule("slow", "page", 3600, 300, Fraction(6)),
        AlertRule("critical", "ticket", 86400, 7200, Fraction(3)),
    )


def test_seed_service_map_and_policy_combine(tmp_path: Path) -> None:
    cfg = load_config(
        [
            write(tmp_path, "slo_config.yaml", SEED_SERVICE_MAP),
            write(tmp_path, "error-budget-policy.yaml", SEED_POLICY),
        ],
        env={},
    )
    assert [s.id for s in cfg.slos] == ["checkout-api:success_rate", "payment-gateway:latency"]
    assert cfg.slos[0].source == str(tmp_path / "slo_config.yaml")
    assert cfg.slos[1].source == str(tmp_path / "error-budget-policy.yaml")


# ---------------------------------------------------------------------------------------------
# Defaults


WORKBOOK = (
    AlertRule("page_1h_5m", "page", 3600, 300, Fraction("14.4")),
    AlertRule("page_6h_30m", "page", 21600, 1800, Fraction(6)),
    AlertRule("ticket_1d_2h", "ticket", 86400, 7200, Fraction(3)),
    AlertRule("ticket_3d_6h", "ticket", 259200, 21600, Fraction(1)),
)


def test_service_without_alerts_gets_the_sre_workbook_rules(tmp_path: Path) -> None:
    cfg = load_config([write(tmp_path, "slo.yaml", CHECKOUT_ONLY)], env={})
    checkout = cfg.slo("checkout-api:success_rate")
    assert checkout is not None
    assert checkout.alerts == WORKBOOK
    assert checkout.windows_s == (300, 1800, 3600, 7200, 21600, 86400, 259200)


def test_policy_without_burn_rates_gets_the_sre_workbook_rules(tmp_path: Path) -> None:
    policy = """\
policy:
  services:
    - name: checkout-api
      sli: {}
      slo: {target: 0.999, window_days: 30}
"""
    cfg = load_config([write(tmp_path, "policy.yaml", policy)], env={})
    assert cfg.slos[0].id == "checkout-api:success_rate"
    assert cfg.slos[0].success_codes is None
    assert cfg.slos[0].alerts == WORKBOOK


# ---------------------------------------------------------------------------------------------
# Errors: one line per problem, naming the file, the field and the expectation


def test_bad_config_reports_every_problem_as_one_line_with_file_field_and_expectation(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "slo.yaml", BAD_SERVICE_MAP)
    lines = problems(path)
    assert sorted(lines) == sorted(
        [
            f"{path}: services.checkout-api.target: must be between 0 and 1 (exclusive), got 1.2",
            f"{path}: services.checkout-api.sli_type: "
            "expected 'success_rate' or 'latency', got 'availability'",
            f"{path}: services.checkout-api.alerts.fast_burn.window_minutes: "
            "required field is missing",
        ]
    )


def test_invalid_yaml_is_one_line_with_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "slo.yaml",
        "services:\n  checkout-api:\n    target: 0.999\n   sli_type: success_rate\n",
    )
    assert problems(path) == [f"{path}: line 4 column 4: invalid YAML: did not find expected key"]


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert problems(path) == [f"{path}: cannot read file: No such file or directory"]


def test_top_level_list_is_one_line_saying_what_shape_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", "- checkout-api\n- search-api\n")
    assert problems(path) == [
        f"{path}: (top level): expected a mapping with 'services' (SLO service map) "
        "or 'policy' (error-budget policy), got 'list'"
    ]


def test_misspelt_field_is_named_as_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", CHECKOUT_ONLY.replace("window_days", "windw_days"))
    assert problems(path) == [
        f"{path}: services.checkout-api.windw_days: "
        "unknown field (not part of the format; check the spelling)",
    ]


def test_slo_window_must_be_rolling_days_or_a_calendar_period(tmp_path: Path) -> None:
    neither = write(tmp_path, "a.yaml", CHECKOUT_ONLY.replace("    window_days: 30\n", ""))
    both = write(tmp_path, "b.yaml", CHECKOUT_ONLY + "    calendar: month\n")
    expected = "expected exactly one of window_days (rolling) or calendar (month or week)"
    assert problems(neither) == [f"{neither}: services.checkout-api: {expected}"]
    assert problems(both) == [f"{both}: services.checkout-api: {expected}"]


def test_calendar_window_takes_an_iana_time_zone(tmp_path: Path) -> None:
    ok = CHECKOUT_ONLY.replace("window_days: 30", "calendar: month\n    timezone: Europe/Berlin")
    cfg = load_config([write(tmp_path, "ok.yaml", ok)], env={})
    assert (cfg.slos[0].calendar, cfg.slos[0].timezone) == ("month", "Europe/Berlin")
    assert cfg.slos[0].window_label == "calendar month (Europe/Berlin)"
    bad = write(tmp_path, "bad.yaml", ok.replace("Europe/Berlin", "Mars/Olympus"))
    assert problems(bad) == [
        f"{bad}: services.checkout-api.timezone: must be an IANA time zone such as 'UTC' or "
        "'Europe/Berlin', got 'Mars/Olympus'"
    ]


def test_no_config_files_is_an_error() -> None:
    assert problems() == ["(no config): expected at least one config file"]


NOTIFY = """\
notifications:
  slack_webhook_url: ${SLACK_WEBHOOK_URL}
  pagerduty_routing_key: ${PAGERDUTY_ROUTING_KEY:-fallback-key}
"""


def test_unset_env_var_is_an_error_naming_the_variable_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", CHECKOUT_ONLY + NOTIFY)
    assert problems(path) == [
        f"{path}: notifications.slack_webhook_url: environment variable SLACK_WEBHOOK_URL "
        "must be set (referenced as ${SLACK_WEBHOOK_URL})"
    ]


def test_env_var_with_default_falls_back_when_unset(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", CHECKOUT_ONLY + NOTIFY)
    cfg = load_config([path], env={"SLACK_WEBHOOK_URL": "http://127.0.0.1:1/hook"})
    assert cfg.notifications.pagerduty_routing_key == "fallback-key"


def test_set_env_vars_are_substituted(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", CHECKOUT_ONLY + NOTIFY)
    cfg = load_config(
        [path],
        env={"SLACK_WEBHOOK_URL": "http://127.0.0.1:1/hook", "PAGERDUTY_ROUTING_KEY": "rk-42"},
    )
    assert cfg.notifications.slack_webhook_url == "http://127.0.0.1:1/hook"
    assert cfg.notifications.pagerduty_routing_key == "rk-42"


def test_same_slo_in_two_files_is_an_error(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", CHECKOUT_ONLY)
    second = write(tmp_path, "b.yaml", CHECKOUT_ONLY)
    assert problems(first, second) == [
        f"{second}: checkout-api: SLO 'checkout-api:success_rate' is defined twice "
        f"(also in {first}); expected each service/SLI once"
    ]


def test_same_slo_in_service_map_and_policy_is_an_error(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", SEED_SERVICE_MAP)
    policy = SEED_POLICY.replace("payment-gateway", "checkout-api").replace("        le: 0.5\n", "")
    second = write(tmp_path, "b.yaml", policy)
    assert problems(first, second) == [
        f"{second}: checkout-api: SLO 'checkout-api:success_rate' is defined twice "
        f"(also in {first}); expected each service/SLI once"
    ]


@pytest.mark.parametrize(
    ("section", "body"),
    [
        ("settings", "settings:\n  bucket_seconds: 10\n"),
        ("notifications", "notifications:\n  slack_webhook_url: ''\n"),
    ],
)
def test_section_in_two_files_is_an_error(tmp_path: Path, section: str, body: str) -> None:
    first = write(tmp_path, "a.yaml", CHECKOUT_ONLY + body)
    second = write(tmp_path, "b.yaml", CHECKOUT_ONLY.replace("checkout-api", "search") + body)
    assert problems(first, second) == [
        f"{second}: {section}: expected in one file only, also in {first}"
    ]


def test_bucket_seconds_that_does_not_divide_an_hour_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "slo.yaml", CHECKOUT_ONLY + "settings:\n  bucket_seconds: 7\n")
    assert problems(path) == [
        f"{path}: settings.bucket_seconds: must divide 3600 evenly (e.g. 5, 10, 15, 30, 60), got 7"
    ]


def test_problems_from_several_files_are_all_reported(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", BAD_SERVICE_MAP)
    missing = tmp_path / "missing.yaml"
    lines = problems(bad, missing)
    assert len(lines) == 4
    assert sum(line.startswith(f"{bad}: ") for line in lines) == 3
    assert lines[-1] == f"{missing}: cannot read file: No such file or directory"


# ---------------------------------------------------------------------------------------------
# Bugs found while writing these tests (see the reasons)


def test_non_numeric_success_value_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.yaml", SEED_POLICY.replace('"201"', '"2xx"'))
    lines = problems(path)
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: policy.services[0].sli.success_values[1]: ")


def test_alert_windows_are_whole_buckets_of_settings_from_another_file(tmp_path: Path) -> None:
    other = CHECKOUT_ONLY.replace("checkout-api", "search-api")
    tuning = write(tmp_path, "tuning.yaml", other + "settings:\n  bucket_seconds: 60\n")
    seed = write(tmp_path, "slo_config.yaml", SEED_SERVICE_MAP)
    cfg = load_config([tuning, seed], env={})
    assert cfg.settings.bucket_seconds == 60
    checkout = cfg.slo("checkout-api:success_rate")
    assert checkout is not None
    # fast_burn: 300 s / 12 = 25 s, rounded up to whole 60-s buckets = 60 s (got 30 s).
    assert checkout.alerts[0].short_window_s == 60


@pytest.mark.parametrize(
    ("alert", "long_s", "short_s"),
    [
        ("window_minutes: 60\n        short_window_minutes: 0.84", 3600, 60),  # short 50.4 s
        ("window_minutes: 5.005", 310, 30),  # long 300.3 s
    ],
)
def test_windows_round_up_to_whole_buckets_even_just_past_a_boundary(
    tmp_path: Path, alert: str, long_s: int, short_s: int
) -> None:
    text = SEED_SERVICE_MAP.replace("window_minutes: 5", alert, 1)
    cfg = load_config([write(tmp_path, "slo.yaml", text)], env={})
    fast = cfg.slos[0].alerts[0]
    assert (fast.long_window_s, fast.short_window_s) == (long_s, short_s)


def test_policy_le_in_seconds_converts_to_exact_milliseconds(tmp_path: Path) -> None:
    path = write(tmp_path, "policy.yaml", SEED_POLICY.replace("le: 0.5", "le: 2.01"))
    assert load_config([path], env={}).slos[0].latency_threshold_ms == 2010


# ---------------------------------------------------------------------------------------------
# The CLI


def run_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return sloburn("validate", *map(str, paths))


def test_cli_validate_prints_each_problem_as_one_stderr_line_and_exits_1(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "slo.yaml", BAD_SERVICE_MAP)
    result = run_validate(path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == sorted(
        [
            f"config error: {path}: services.checkout-api.target: "
            "must be between 0 and 1 (exclusive), got 1.2",
            f"config error: {path}: services.checkout-api.sli_type: "
            "expected 'success_rate' or 'latency', got 'availability'",
            f"config error: {path}: services.checkout-api.alerts.fast_burn.window_minutes: "
            "required field is missing",
        ]
    )


def test_cli_validate_accepts_the_shipped_configs() -> None:
    result = run_validate(*SHIPPED)
    assert result.returncode == 0, result.stderr
    assert [line.split(":", 1)[0] for line in result.stdout.splitlines()] == [
        "ok checkout-api",
        "ok search-api",
        "ok payment-gateway",
    ]
    assert result.stdout.splitlines()[2] == (
        "ok payment-gateway:latency: target 0.9995 over 30d; "
        "fast(page 60m/5m >14.4x), slow(page 360m/30m >6x), critical(ticket 1440m/120m >3x)"
    )


def test_cli_validate_reports_a_non_numeric_success_value_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "policy.yaml", SEED_POLICY.replace('"201"', '"2xx"'))
    result = run_validate(path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_key_written_twice_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "dup.yaml",
        "services:\n"
        "  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n    window_days: 30\n"
        "  checkout-api:\n    sli_type: success_rate\n    target: 0.99\n    window_days: 30\n",
    )
    assert problems(f) == [
        f"{f}: line 6 column 3: invalid YAML: "
        "duplicate key 'checkout-api' (each key may appear once)"
    ]


def test_short_window_longer_than_long_window_is_an_error(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "short.yaml",
        "services:\n  checkout-api:\n    sli_type: success_rate\n    target: 0.999\n"
        "    window_days: 30\n    alerts:\n      fast:\n        window_minutes: 5\n"
        "        short_window_minutes: 60\n        threshold: 14.4\n",
    )
    [line] = problems(f)
    assert line.startswith(f"{f}: services.checkout-api.alerts.fast: ")
    assert "short_window_minutes (60) must not exceed window_minutes (5)" in line


def test_timeslices_budgeting_takes_a_slice_window_and_target(tmp_path: Path) -> None:
    ok = CHECKOUT_ONLY + (
        "    budgeting_method: timeslices\n"
        "    timeslice_window_seconds: 60\n"
        "    timeslice_target: 0.95\n"
    )
    cfg = load_config([write(tmp_path, "ok.yaml", ok)], env={})
    assert (cfg.slos[0].timeslice_s, cfg.slos[0].timeslice_target) == (60, Fraction("0.95"))
    assert cfg.slicing == {"checkout-api:success_rate": (60, Fraction("0.95"))}
    plain = load_config([write(tmp_path, "plain.yaml", CHECKOUT_ONLY)], env={})
    assert plain.slicing == {}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "    budgeting_method: timeslices\n",
            "services.checkout-api: budgeting_method timeslices needs timeslice_window_seconds "
            "and timeslice_target",
        ),
        (
            "    budgeting_method: timeslices\n    timeslice_window_seconds: 120\n"
            "    timeslice_target: 0.9\n",
            "services.checkout-api: timeslice_window_seconds must divide 900 (15 minutes), "
            "e.g. 60 or 300",
        ),
        (
            "    timeslice_target: 0.9\n",
            "services.checkout-api: timeslice_* fields need budgeting_method: timeslices",
        ),
    ],
)
def test_timeslices_fields_are_checked(tmp_path: Path, extra: str, expected: str) -> None:
    f = write(tmp_path, "ts.yaml", CHECKOUT_ONLY + extra)
    assert problems(f) == [f"{f}: {expected}"]


def test_timeslice_must_be_whole_buckets(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "ts.yaml",
        CHECKOUT_ONLY + "    budgeting_method: timeslices\n    timeslice_window_seconds: 60\n"
        "    timeslice_target: 0.9\nsettings:\n  bucket_seconds: 45\n",
    )
    assert problems(f) == [
        f"{f}: checkout-api: timeslice_window_seconds: must be a multiple of "
        "settings.bucket_seconds (45), got 60"
    ]
