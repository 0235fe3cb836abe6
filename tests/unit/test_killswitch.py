"""The kill switch's reading of its ConfigMap fails closed; the run flags are checked before anything starts."""

from __future__ import annotations

import argparse
import io
import json
import logging
import pathlib
from typing import Any

import pytest

from chaos_operator.cli.runflags import JsonFormatter, add_run_flags, apply_run_flags
from chaos_operator.runtime.killswitch import UNREADABLE_PAUSED_S, PauseWatcher, parse
from chaos_operator.runtime.operator import OperatorConfig


@pytest.mark.parametrize(("configmap", "paused", "why"), [
    (None, False, "no pause ConfigMap"),
    ({"data": {"paused": "false", "by": "ann"}}, False, "by ann"),
    ({"data": {"paused": " False "}}, False, "resumed"),
    ({"data": {"paused": "true", "reason": "incident 42"}}, True, "incident 42"),
    ({"data": {}}, True, "no reason given"),  # a ConfigMap of that name with no flag: paused
    ({}, True, "no reason given"),
    ({"data": {"paused": "yes"}}, True, "treated as paused"),  # anything but false
])
def test_parse(configmap: dict[str, Any] | None, paused: bool, why: str) -> None:
    state = parse(configmap)
    assert state.paused is paused and why in state.why


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_run_flags(p)
    return p.parse_args(list(argv))


def test_run_flags_fill_the_config() -> None:
    config = OperatorConfig()
    apply_run_flags(_args("--leader-election", "--lease-duration", "20", "--renew-deadline", "12",
                          "--retry-period", "3", "--metrics-port", "9090", "--require-opt-in",
                          "--recovery-retry", "30", "--max-running-experiments", "4",
                          "--max-helpers-per-node", "8"), config)
    assert config.leader_election and config.require_opt_in and config.metrics_port == 9090
    assert config.recover_retry_s == 30 and OperatorConfig().recover_retry_s == 120
    assert (config.max_running, config.max_helpers_per_node) == (4, 8)
    assert (config.lease.lease_s, config.lease.renew_deadline_s, config.lease.retry_s) == (20, 12, 3)
    off = OperatorConfig()
    apply_run_flags(_args("--no-leader-election", "--metrics-port", "0"), off)
    assert not off.leader_election and off.metrics_port is None and off.disabled_faults == frozenset()
    apply_run_flags(_args("--disable-fault", "PodKill"), off)
    assert off.disabled_faults == frozenset({"PodKill"})
    assert not off.prometheus_urls
    apply_run_flags(_args("--allow-prometheus-url", "http://prom:9090", "--allow-prometheus-url", "https://p"), off)
    assert off.prometheus_urls == ("http://prom:9090", "https://p")
    with pytest.raises(SystemExit):
        _args("--disable-fault", "RmRf")  # only a known kind


@pytest.mark.parametrize("argv", [("--lease-duration", "5", "--renew-deadline", "10"), ("--metrics-port", "70000"),
                                  ("--recovery-retry", "0"), ("--max-running-experiments", "-1")])
def test_bad_run_flags_exit_with_a_message(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exc:
        apply_run_flags(_args(*argv), OperatorConfig())
    assert "chaos-operator run:" in str(exc.value.code)


def test_json_logs_are_one_object_per_line() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.json")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning('paused by "ann"\nsecond line')
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "warning" and first["logger"] == "test.json"
    assert first["message"] == 'paused by "ann"\nsecond line' and first["time"].endswith("+00:00")
    assert second["message"] == "failed" and "ValueError: boom" in second["exception"]


class FlakyConfigMaps:
    """Answers with ``configmap`` while ``up``; else the read fails as an API outage does."""

    def __init__(self) -> None:
        self.up = True
        self.configmap: dict[str, Any] | None = None

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        if not self.up:
            raise ConnectionError("the API server is gone")
        return self.configmap


async def test_an_unreadable_kill_switch_counts_as_paused_after_its_stated_time() -> None:
    now = [0.0]
    changes: list[bool] = []
    api = FlakyConfigMaps()
    watcher = PauseWatcher(api, "chaos-system", on_change=changes.append, monotonic=lambda: now[0])
    await watcher.read_once()
    assert watcher.reason() is None and changes == [False]
    api.up = False
    now[0] = UNREADABLE_PAUSED_S - 1
    await watcher.read_once()
    assert watcher.reason() is None  # a short outage keeps the last state
    now[0] = UNREADABLE_PAUSED_S  # no read at all (one that hangs) counts the same
    why = watcher.reason()
    assert why is not None and "could not be read" in why and changes == [False, True]
    api.up = True
    await watcher.read_once()
    assert watcher.reason() is None and changes == [False, True, False]


def test_the_load_runner_flag_env_and_token_key(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_LOAD_RUNNER", raising=False)
    assert OperatorConfig().load_runner == "workers"
    config = OperatorConfig()
    apply_run_flags(_args(), config)
    assert (config.load_runner, config.load_token_key) == ("workers", None)  # workers are the default
    key = tmp_path / "key"
    key.write_bytes(b"0123456789abcdef0123\n")
    apply_run_flags(_args("--load-token-key-file", str(key)), config)
    assert (config.load_runner, config.load_token_key) == ("workers", b"0123456789abcdef0123")
    apply_run_flags(_args("--load-runner", "inprocess"), config)  # the one named alternative
    assert config.load_runner == "inprocess"
    monkeypatch.setenv("CHAOS_LOAD_RUNNER", "inprocess")
    from_env = OperatorConfig()
    apply_run_flags(_args(), from_env)
    assert from_env.load_runner == "inprocess"
    apply_run_flags(_args("--load-runner", "workers"), from_env)  # the flag wins over the env
    assert from_env.load_runner == "workers"
    monkeypatch.setenv("CHAOS_LOAD_RUNNER", "threads")
    with pytest.raises(SystemExit):
        apply_run_flags(_args(), OperatorConfig())
    key.write_bytes(b"short")
    with pytest.raises(SystemExit):
        apply_run_flags(_args("--load-token-key-file", str(key)), OperatorConfig())
