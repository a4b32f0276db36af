"""The cloud checks (support/cloud_checks.py) catch what they claim to: each is shown the renders of
cloud=aws (GitHub and GitLab, the latter with compute=ray) and, for their KubeRay RayJobs,
cloud=gcp and cloud=azure with compute=ray, clean, then with defects planted, and must name
every one.

Without this, a check that silently checks nothing (no file matched, a tool that exits 0
on input it cannot read, as checkov does on broken HCL; kubernetes-validate, which has no
schema for a custom resource) would leave the matrix green.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from support import cloud_checks
from support.rendering import render_copier

TERRAFORM = "deploy/aws/terraform"
DEPLOYMENT = "deploy/k8s/base/deployment.yaml"
GITHUB_DEPLOY = ".github/workflows/deploy-aws.yml"


# (cloud, ci, compute) of each render: the planted defects take the first two.
RENDERS = [
    ("aws", "github", "local"),
    ("aws", "gitlab", "ray"),
    ("gcp", "github", "ray"),
    ("azure", "github", "ray"),
]
RAY_JOB = "deploy/k8s/ray/base/train.yaml"


@pytest.fixture(scope="module")
def clean(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("cloud")
    return [
        render_copier(
            copier_source,
            {"cloud": cloud, "ci": ci, "compute": compute},
            root / f"{cloud}-{ci}-{compute}",
        )
        for cloud, ci, compute in RENDERS
    ]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}: the planted defect would plant nothing"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


Plant = Callable[..., None]  # (aws GitHub project, aws GitLab project with Ray, *the others)


def plant_terraform_syntax_and_format(gh: Path, gl: Path, *_: Path) -> None:
    append(gh / TERRAFORM / "kms.tf", 'resource "aws_kms_key" "broken" {\n')
    replace(gl / TERRAFORM / "registry.tf", "  name                 =", "  name =")


def plant_terraform_references(gh: Path, gl: Path, *_: Path) -> None:
    """Names another answer's file would declare, or a typo: `terraform validate`'s find."""
    replace(gh / TERRAFORM / "storage.tf", "aws_kms_key.main.arn", "aws_kms_key.primary.arn")
    replace(
        gh / TERRAFORM / "kms.tf",
        "data.aws_iam_policy_document.kms",
        "data.aws_iam_policy_document.key",
    )
    replace(gl / TERRAFORM / "registry.tf", "var.project", "var.projects")
    append(gl / TERRAFORM / "registry.tf", 'output "x" {\n  value = local.nowhere\n}\n')


def plant_kubernetes_schema_and_build(gh: Path, gl: Path, *_: Path) -> None:
    replace(gh / DEPLOYMENT, "readOnlyRootFilesystem: true", "readOnlyRootFs: true")
    replace(gl / "deploy/aws/k8s/kustomization.yaml", "ingress.yaml", "missing.yaml")


def plant_rayjob_crd_schema(gh: Path, gl: Path, *_: Path) -> None:
    """kubernetes-validate has no schema for KubeRay's RayJob: only the CRD's own refuses
    a field KubeRay does not have and a count written as a string."""
    replace(gl / RAY_JOB, "shutdownAfterJobFinishes: true", "shutdownAfterJobFinish: true")
    replace(gl / RAY_JOB, "maxReplicas: 4", 'maxReplicas: "4"')


def plant_checkov_terraform_kubernetes_dockerfile(gh: Path, gl: Path, *_: Path) -> None:
    replace(gh / TERRAFORM / "storage.tf", "block_public_acls       = true", "")
    replace(gh / DEPLOYMENT, "privileged: false", "privileged: true")
    replace(gh / "Dockerfile", "USER 10001:10001", "USER root")
    append(gl / TERRAFORM / "kms.tf", 'resource "aws_kms_key" "broken" {\n')
    # A RayJob's pods, which checkov sees only as the Pods cloud_checks.ray_pods makes.
    replace(gl / RAY_JOB, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")


def plant_zizmor(gh: Path, gl: Path, *_: Path) -> None:
    replace(
        gh / GITHUB_DEPLOY,
        'bash deploy/aws/deploy.sh "${IMAGE,,}"',
        'bash deploy/aws/deploy.sh "${{ github.event.head_commit.message }}"',
    )


def plant_oidc(gh: Path, gl: Path, *_: Path) -> None:
    replace(gh / GITHUB_DEPLOY, "      id-token: write  # OIDC", "      # no token")
    replace(
        gh / ".github/workflows/infra-aws.yml",
        "          role-to-assume: ${{ vars.AWS_PLAN_ROLE_ARN }}",
        "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}",
    )
    replace(
        gl / ".gitlab/deploy-aws.yml",
        "deploy-aws:\n  extends: .aws-oidc\n",
        "deploy-aws:\n",
    )
    # CM signs in through the repository's own composite action.
    replace(
        gh / ".github/actions/aws-login/action.yml",
        "        role-to-assume:",
        "        aws-access-key-id:",
    )


def plant_credentials(gh: Path, gl: Path, *_: Path) -> None:
    # Assembled here so that no scanner mistakes this test for a leak.
    append(gh / ".env.example", "AWS_ACCESS_KEY_ID=" + "AKIA" + "Q3EGRIT7EXAMPLE7" + "\n")
    append(gl / "params.yaml", 'api_token: "' + "s3cr3t-" + "value-12345" + '"\n')


DEFECTS: dict[str, tuple[Callable[[list[Path]], list[str]], Plant, list[str]]] = {
    "terraform-syntax-and-format": (
        cloud_checks.terraform_files,
        plant_terraform_syntax_and_format,
        ["kms.tf: HCL does not parse", "terraform fmt -check failed", "registry.tf"],
    ),
    "terraform-references": (
        cloud_checks.terraform_references,
        plant_terraform_references,
        [
            "storage.tf: aws_kms_key.primary is not declared",
            "kms.tf: data.aws_iam_policy_document.key is not declared",
            "registry.tf: var.projects is not declared",
            "registry.tf: local.nowhere is not declared",
        ],
    ),
    "kubernetes-schema-and-build": (
        cloud_checks.kubernetes_manifests,
        plant_kubernetes_schema_and_build,
        ["readOnlyRootFs", "kubectl kustomize", "missing.yaml"],
    ),
    "rayjob-crd-schema": (
        cloud_checks.kubernetes_manifests,
        plant_rayjob_crd_schema,
        [
            "RayJob/train at spec: Additional properties are not allowed "
            "('shutdownAfterJobFinish' was unexpected)",
            "RayJob/train at spec/rayClusterSpec/workerGroupSpecs/0/maxReplicas: "
            "'4' is not of type 'integer'",
        ],
    ),
    "checkov-terraform-kubernetes-dockerfile": (
        cloud_checks.checkov,
        plant_checkov_terraform_kubernetes_dockerfile,
        [
            "CKV_AWS_53",  # S3 bucket blocks public ACLs
            "CKV_K8S_16",  # container not privileged
            "CKV_DOCKER_8",  # last USER is not root
            # no privilege escalation, in the RayJob's pods (only they are Pods here)
            "CKV_K8S_20 Containers should not run with allowPrivilegeEscalation (Pod.",
            "could not parse",
        ],
    ),
    "zizmor": (
        cloud_checks.workflow_security,
        plant_zizmor,
        ["template-injection"],
    ),
    "oidc": (
        cloud_checks.cloud_ci_uses_oidc,
        plant_oidc,
        [
            "job deploy talks to a cloud without OIDC",
            "job terraform handles a long-lived cloud key",
            "job monitor: aws-actions/configure-aws-credentials without OIDC",
            "GitLab job deploy-aws talks to a cloud without id_tokens",
        ],
    ),
    "credentials": (
        cloud_checks.no_credentials,
        plant_credentials,
        [".env.example", "params.yaml"],
    ),
}


def test_the_clean_renders_pass_every_cloud_check(clean: list[Path]) -> None:
    problems = [p for check in cloud_checks.ALL_CLOUD_CHECKS for p in check(clean)]
    assert problems == []


@pytest.mark.parametrize("defect", DEFECTS)
def test_a_cloud_check_names_every_planted_defect(
    defect: str, clean: list[Path], tmp_path: Path
) -> None:
    check, plant, expected = DEFECTS[defect]
    projects = [shutil.copytree(project, tmp_path / project.name) for project in clean]
    plant(*projects)
    report = "\n".join(check(projects))
    missed = [marker for marker in expected if marker not in report]
    assert not missed, f"{check.__name__} missed {missed}; it reported:\n{report}"


def test_a_missing_tool_fails_loudly(
    clean: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """terraform or checkov missing in CI is a failure, never a silent skip."""
    monkeypatch.setattr(cloud_checks, "terraform_binary", lambda: None)
    monkeypatch.setattr(cloud_checks, "CHECKOV", tmp_path / "no-checkov")
    assert "terraform is not installed" in "\n".join(cloud_checks.terraform_files(clean))
    assert "checkov is not installed" in "\n".join(cloud_checks.checkov(clean))
