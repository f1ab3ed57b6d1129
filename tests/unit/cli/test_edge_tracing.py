"""The edge's tracer exports where the services do: a given OTLP endpoint, else the local receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import edge, spec
from services.cli.launcher import DESCRIPTOR_SET, LaunchError, Mesh


def _tracing(tmp_path: Path, environ: dict[str, str]) -> edge.TracingSettings | None:
    mesh = Mesh(resources=spec.load(), var_dir=tmp_path, environ=environ)
    return mesh._edge_tracing()


def test_by_default_the_edge_exports_to_the_local_receiver(tmp_path: Path) -> None:
    settings = _tracing(tmp_path, {})
    assert settings == edge.TracingSettings(host="127.0.0.1", port=4418, sample_percent=100.0)


def test_a_collector_endpoint_and_sampling_are_followed(tmp_path: Path) -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.internal:4318/", "OTEL_TRACES_SAMPLER_ARG": "0.25"}
    settings = _tracing(tmp_path, environ)
    assert settings == edge.TracingSettings(host="collector.internal", port=4318, sample_percent=25.0)


def test_tracing_off_leaves_the_edge_without_a_tracer(tmp_path: Path) -> None:
    assert _tracing(tmp_path, {"TEEI_TRACING": "false"}) is None


def test_an_endpoint_the_edge_cannot_export_to_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="http://"):
        _tracing(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.internal"})


def test_the_rendered_edge_config_names_the_tracer_and_its_cluster() -> None:
    settings = edge.EdgeSettings(
        listen_port=8080,
        admin_port=9901,
        descriptor_path=DESCRIPTOR_SET,
        upstreams=(edge.Upstream("profile", ("teei.profile.v1.ProfileService",), "127.0.0.1", 50052),),
        tracing=edge.TracingSettings(host="127.0.0.1", port=4418),
    )
    rendered = edge.render_envoy_config(settings)
    assert "envoy.tracers.opentelemetry" in rendered
    assert '"http://127.0.0.1:4418/v1/traces"' in rendered
    assert "name: otlp_collector" in rendered
    untraced = edge.render_envoy_config(edge.EdgeSettings(**{**settings.__dict__, "tracing": None}))
    assert "envoy.tracers.opentelemetry" not in untraced
