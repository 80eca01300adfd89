"""sitrep's RW.Core: the RunWhen keywords codebundles call, writing sitrep's result protocol
(JSON lines appended to $SITREP_RESULTS; docs/runwhen.md). Parameters and secrets come from the
environment sitrep gives the task."""

import json
import os
import re

from RW import platform

# Issue fields of sitrep's protocol that RunWhen's Add Issue also has; other arguments
# (observed_at, summary, next_action, observations, ...) go into the issue's data.
ISSUE_TEXT = ("expected", "actual", "reproduce_hint", "next_steps", "details")

# Platform variables RunWhen's runtime provides; sitrep gives their defaults unless the task's
# environment has them.
PLATFORM_DEFAULTS = {"RW_LOOKBACK_WINDOW": "1h"}


def _text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, default=str)
    except (TypeError, ValueError):
        return str(value)


def _plain(value):
    """A JSON value for the issue's data."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def _emit(record):
    path = os.environ.get("SITREP_RESULTS")
    if not path:
        raise RuntimeError("SITREP_RESULTS is not set: run this task with `sitrep run`")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def issue_record(severity, title, **fields):
    """An issue line of sitrep's protocol from RunWhen's Add Issue arguments."""
    sev = severity
    if isinstance(sev, str) and sev.strip().isdigit():
        sev = int(sev.strip())
    record = {"type": "issue", "severity": sev, "title": _text(title)}
    data = {}
    for name, value in fields.items():
        if name in ISSUE_TEXT:
            record[name] = _text(value)
        elif value not in (None, ""):
            data[name] = _plain(value)
    if data:
        record["data"] = data
    return record


def metric_record(value, sub_name=None, metric_type=None, **labels):
    """A metric line: the SLI's value is `sli`, a sub-metric is named by its sub_name."""
    return {
        "type": "metric",
        "name": sub_name or "sli",
        "value": float(value),
        "labels": {k: _text(v) for k, v in labels.items()},
    }


class Core:
    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def import_user_variable(self, varname, type="string", description="", pattern=None,
                             example=None, default=None, **kwargs):
        value = os.environ.get(varname)
        if value is None:
            if default is None:
                raise ValueError(
                    f"{varname} is not set: pass it with `sitrep run ... --set {varname}=VALUE`"
                    + (f" (e.g. {example})" if example else "")
                )
            value = str(default)
        if str(type).lower() == "integer":
            try:
                int(value)
            except ValueError:
                raise ValueError(f"{varname}={value!r} is not an integer") from None
        # Upstream defaults do not always match their own pattern (dns-health's `""`), so a
        # default is taken as it is.
        if pattern and value != default and not re.match(pattern, value):
            raise ValueError(f"{varname}={value!r} does not match the pattern {pattern!r}")
        return value

    def import_secret(self, key, **kwargs):
        value = os.environ.get(key)
        if value is None:
            raise ValueError(
                f"the secret {key} was not passed: `sitrep run ... --secret {key}=@FILE`"
            )
        return platform.Secret(key, value)

    def import_platform_variable(self, varname, *args, **kwargs):
        value = os.environ.get(varname, PLATFORM_DEFAULTS.get(varname))
        if value is None:
            raise ValueError(f"sitrep does not provide the RunWhen platform variable {varname}")
        return value

    def normalize_lookback_window(self, window, *args, **kwargs):
        # RunWhen widens the window to the SLI's interval; sitrep keeps it as given.
        return window

    def add_issue(self, severity, title, **fields):
        _emit(issue_record(severity, title, **fields))

    def add_pre_to_report(self, text, *args, **kwargs):
        _emit({"type": "report", "text": _text(text)})

    def add_to_report(self, text, *args, **kwargs):
        _emit({"type": "report", "text": _text(text)})

    def push_metric(self, value, sub_name=None, metric_type=None, **labels):
        _emit(metric_record(value, sub_name, metric_type, **labels))
