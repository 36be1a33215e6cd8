"""The Helm chart: the real ``helm lint --strict`` and ``helm template`` (Helm 4), and every
rendered manifest validated against the Kubernetes API schemas (kubernetes-validate,
offline), with the defaults and with each switch of values.yaml flipped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.tools import helm_binary

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "journeys"
KUBERNETES = "1.33"
VARIANTS = {
    "defaults": [],
    "fixed workers, ServiceMonitor": [
        "--set",
        "worker.autoscaling.enabled=false",
        "--set",
        "metrics.serviceMonitor.enabled=true",
    ],
    "scenarios from a ConfigMap": ["--set", "scenariosConfigMap=journeys-scenarios"],
}


@pytest.fixture(scope="module")
def helm() -> str:
    return helm_binary()


def lint(helm: str, chart: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, "lint", "--strict", str(chart), *args], capture_output=True, text=True
    )


def render(helm: str, chart: Path, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [helm, "template", "rel", str(chart), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def validate(manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: no schema in kubernetes-validate (its shape is asserted below)
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


@pytest.mark.parametrize("args", VARIANTS.values(), ids=VARIANTS.keys())
def test_chart_lints_and_renders_valid_manifests(helm: str, args: list[str]) -> None:
    linted = lint(helm, CHART, *args)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    validate(render(helm, CHART, *args))


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests}


def test_the_rendered_objects_do_what_the_readme_says(helm: str) -> None:
    objects = by_kind(render(helm, CHART))
    assert set(objects) == {
        "Deployment/rel-journeys-worker",
        "HorizontalPodAutoscaler/rel-journeys-worker",
        "Deployment/rel-journeys-api",
        "Service/rel-journeys-api",
    }
    worker = objects["Deployment/rel-journeys-worker"]["spec"]
    assert "replicas" not in worker  # the HPA owns the count
    hpa = objects["HorizontalPodAutoscaler/rel-journeys-worker"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "rel-journeys-worker"
    api = objects["Deployment/rel-journeys-api"]["spec"]["template"]
    [container] = api["spec"]["containers"]
    assert container["args"] == ["api"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["envFrom"] == [{"secretRef": {"name": "journeys"}}]
    assert api["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert api["spec"]["securityContext"]["runAsNonRoot"] is True
    [worker_container] = worker["template"]["spec"]["containers"]
    assert worker_container["args"] == ["worker"]
    env = {e["name"]: e["value"] for e in worker_container["env"]}
    assert env["JOURNEYS_TEMPORAL_METRICS_ADDRESS"] == "0.0.0.0:9464"
    assert worker_container["livenessProbe"]["httpGet"]["port"] == "metrics"

    fixed = by_kind(render(helm, CHART, *VARIANTS["fixed workers, ServiceMonitor"]))
    assert fixed["Deployment/rel-journeys-worker"]["spec"]["replicas"] == 2
    assert "HorizontalPodAutoscaler/rel-journeys-worker" not in fixed
    monitor = fixed["ServiceMonitor/rel-journeys-api"]["spec"]
    assert monitor["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def broken_copy(tmp_path: Path, template: str, old: str, new: str) -> Path:
    chart = tmp_path / "journeys"
    shutil.copytree(CHART, chart)
    path = chart / "templates" / template
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return chart


def test_helm_lint_fails_on_a_broken_template(helm: str, tmp_path: Path) -> None:
    chart = broken_copy(
        tmp_path,
        "api-service.yaml",
        "{{ .Values.api.service.type }}",
        "{{ .Values.api.service.type ",
    )
    linted = lint(helm, chart)
    assert linted.returncode != 0
    assert "api-service.yaml" in linted.stdout + linted.stderr


def test_a_manifest_helm_accepts_but_kubernetes_would_refuse_fails(
    helm: str, tmp_path: Path
) -> None:
    # helm lint parses YAML but knows no schema: a misspelt field passes it...
    chart = broken_copy(tmp_path, "api-deployment.yaml", "readinessProbe:", "readinesProbe:")
    assert lint(helm, chart).returncode == 0
    # ...and the schema check is what catches it.
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate(render(helm, chart))
