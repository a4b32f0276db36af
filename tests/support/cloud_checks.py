"""Static verification of what runs in a cloud or a cluster: Terraform, Kubernetes, images
and the CI that deploys them. Nothing here can run for real (no account, no cluster, no
Docker engine), so real tools validate it instead, each called once over many projects.

Every check takes a shard of rendered projects and returns human-readable problems, like
those of static_checks.py, beside which checks.py runs them. Identical files (most projects of
a shard share them) are checked once: `distinct` keeps one path per content.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

from support.gitlab_yaml import GitLabLoader, Reference
from support.hcl import parsed, plain
from support.project_files import BIN, files, is_dockerfile, is_workflow
from support.rendering import ROOT

# checkov pins an old `packaging`, so it lives in its own environment, which .ci/run creates.
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venvs" / "checkov" / "bin" / "checkov"))
KUBERNETES_VERSION = "1.33.0"  # the oldest minor EKS, GKE and AKS all still support


def terraform_binary() -> Path | None:
    found = os.environ.get("TERRAFORM") or shutil.which("terraform")
    return Path(found) if found else None


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def distinct(paths: Iterable[Path]) -> list[Path]:
    """The first path of each distinct content."""
    seen: dict[str, Path] = {}
    for path in paths:
        seen.setdefault(digest(path), path)
    return list(seen.values())


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cloud-checks-") as directory:
        yield Path(directory)


# ---- Terraform --------------------------------------------------------------------------
def is_terraform(path: Path) -> bool:
    return path.suffix == ".tf"


def terraform_roots(projects: list[Path]) -> dict[str, Path]:
    """Each distinct Terraform root directory (all its .tf files), by content."""
    directories = sorted({p.parent for p in files(projects, is_terraform)})
    roots: dict[str, Path] = {}
    for directory in directories:
        roots.setdefault(digest(*sorted(directory.glob("*.tf"))), directory)
    return roots


def terraform_files(projects: list[Path]) -> list[str]:
    """Every .tf parses (python-hcl2) and is formatted as `terraform fmt` would."""
    tf_files = distinct(files(projects, is_terraform))
    if not tf_files:
        return []
    problems, parsable = [], []
    for path in tf_files:
        try:
            parsed(path.read_text(encoding="utf-8"))
            parsable.append(path)
        except Exception as error:  # the parser raises several unrelated types
            problems.append(f"{path}: HCL does not parse: {error}")
    if not parsable:
        return problems
    terraform = terraform_binary()
    if terraform is None:
        return [*problems, "terraform is not installed: `terraform fmt -check` cannot run"]
    result = subprocess.run(
        # fmt stops at the first file it cannot parse: give it those that parse.
        [str(terraform), "fmt", "-check", "-diff", "-no-color", *map(str, parsable)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    if result.returncode != 0:
        problems.append(f"terraform fmt -check failed:\n{result.stdout}{result.stderr}".strip())
    return problems


# What a Terraform expression names: a variable, a local value, a data source, a resource
# (of the providers the renders use). `terraform validate` would resolve them, but it needs
# the providers, which cannot be downloaded here.
REFERENCE = re.compile(
    r"(?<![\w.])(?:(var|local)\.(\w+)|data\.(\w+)\.(\w+)"
    r"|((?:aws|google|google-beta|azurerm|azuread|random|time|tls)_\w+)\.(\w+))"
)
COMMENT = re.compile(r"(^|\s)(#|//).*$", re.M)


def declared(documents: list[dict[str, Any]]) -> set[str]:
    """Every name a root declares, as its expressions reference it."""
    names = set()
    for document in map(plain, documents):
        names |= {f"var.{name}" for block in document.get("variable", []) for name in block}
        names |= {f"local.{name}" for block in document.get("locals", []) for name in block}
        for section, prefix in (("data", "data."), ("resource", "")):
            for block in document.get(section, []):
                for kind, bodies in block.items():
                    names |= {f"{prefix}{kind}.{name}" for name in bodies}
    return names


def terraform_references(projects: list[Path]) -> list[str]:
    """Every variable, local value, data source and resource a root's expressions name is
    declared in that root (a file rendered under one answer naming what another renders)."""
    problems = []
    for directory in terraform_roots(projects).values():
        texts = {path: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.tf"))}
        try:
            names = declared([parsed(text) for text in texts.values()])
        except Exception:  # the parser raises several types; terraform_files reports them
            continue
        for path, text in texts.items():
            for match in REFERENCE.finditer(COMMENT.sub("", text)):
                kind, name, data_kind, data_name, resource_kind, resource_name = match.groups()
                reference = (
                    f"{kind}.{name}" if kind
                    else f"data.{data_kind}.{data_name}" if data_kind
                    else f"{resource_kind}.{resource_name}"
                )  # fmt: skip
                if reference not in names:
                    problems.append(f"{path}: {reference} is not declared in {directory}")
    return sorted(set(problems))


# ---- Kubernetes -------------------------------------------------------------------------
def is_overlay(path: Path) -> bool:
    """A kustomization meant to be applied: every one but a base."""
    return path.name == "kustomization.yaml" and path.parent.name != "base"


def build_overlays(projects: list[Path], into: Path) -> tuple[dict[Path, Path], list[str]]:
    """`kubectl kustomize` each distinct overlay into `into`; returns built file -> overlay."""
    built: dict[Path, Path] = {}
    seen: set[str] = set()
    problems = []
    for kustomization in files(projects, is_overlay):
        project = next(p for p in projects if kustomization.is_relative_to(p))
        inputs = sorted(
            p for p in (project / "deploy").rglob("*") if p.is_file() and "k8s" in p.parts
        )
        key = digest(*inputs) + "-" + kustomization.parent.relative_to(project).as_posix()
        if key in seen:
            continue
        seen.add(key)
        result = subprocess.run(
            [str(BIN / "kubectl"), "kustomize", str(kustomization.parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            problems.append(f"kubectl kustomize {kustomization.parent} failed:\n{result.stderr}")
            continue
        output = into / f"{digest(kustomization)}-{len(built)}.yaml"
        output.write_text(result.stdout, encoding="utf-8")
        built[output] = kustomization.parent
    return built, problems


# Custom resources kubernetes-validate has no schema for, by (apiVersion, kind): the
# CRD's own schema, vendored from the operator's release (see the file's `source`).
CUSTOM_RESOURCE_SCHEMAS = {
    ("ray.io/v1", "RayJob"): Path(__file__).with_name("kuberay_rayjob_v1.schema.json"),
}


def strict_schema(schema: dict[str, Any], root: bool = True) -> dict[str, Any]:
    """A CRD's structural OpenAPI v3 schema as JSON Schema that refuses unknown fields, as
    the API server does under `kubectl apply`'s strict field validation (it would prune
    them otherwise): every object with `properties` and no `additionalProperties` gets
    `additionalProperties: false`; `nullable` admits null. The root's metadata stays open
    (ObjectMeta, which the API server checks itself). CEL rules (x-kubernetes-validations)
    are not evaluated."""
    out = {key: value for key, value in schema.items() if not key.startswith("x-kubernetes-")}
    if "properties" in out:
        out["properties"] = {
            name: strict_schema(sub, root=False) if not (root and name == "metadata") else sub
            for name, sub in out["properties"].items()
        }
        out.setdefault("additionalProperties", False)
    elif isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = strict_schema(out["additionalProperties"], root=False)
    if isinstance(out.get("items"), dict):
        out["items"] = strict_schema(out["items"], root=False)
    for key in ("anyOf", "allOf", "oneOf"):
        if key in out:
            out[key] = [strict_schema(sub, root=False) for sub in out[key]]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def custom_resource_problems(document: dict[str, Any], where: str) -> list[str]:
    """One line per schema violation of a custom resource, at its field path."""
    source = CUSTOM_RESOURCE_SCHEMAS[document["apiVersion"], document["kind"]]
    schema = strict_schema(json.loads(source.read_text(encoding="utf-8"))["openAPIV3Schema"])
    validator = jsonschema.Draft4Validator(schema)
    name = f"{document['kind']}/{document.get('metadata', {}).get('name')}"
    return [
        f"{where}: {name} at {'/'.join(map(str, error.absolute_path)) or '(root)'}: "
        f"{error.message[:300]} (the CRD schema, {source.name})"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
    ]


def split_custom_resources(built: dict[Path, Path]) -> list[str]:
    """Validate each built overlay's custom resources against their CRD's schema and leave
    the built files with the Kubernetes API's own kinds only, for kubernetes-validate."""
    problems = []
    for output, overlay in built.items():
        documents = [d for d in yaml.safe_load_all(output.read_text(encoding="utf-8")) if d]
        core = []
        for document in documents:
            if (document.get("apiVersion"), document.get("kind")) in CUSTOM_RESOURCE_SCHEMAS:
                problems += custom_resource_problems(document, f"{overlay} (built)")
            else:
                core.append(document)
        output.write_text(yaml.safe_dump_all(core, sort_keys=False), encoding="utf-8")
    return problems


def kubernetes_manifests(projects: list[Path]) -> list[str]:
    """Every overlay builds with kustomize, and what it builds is valid against the API
    schemas (kubernetes-validate --strict: unknown fields fail; warnings count as failures)
    and, for custom resources (KubeRay's RayJob), against their CRD's own schema."""
    with scratch() as directory:
        built, problems = build_overlays(projects, directory)
        if not built:
            return problems
        problems += split_custom_resources(built)
        problem = kubernetes_validate(list(built))
        for output, overlay in built.items():
            problem = problem.replace(str(output), f"{overlay} (built)")
        if problem:
            problems.append(problem)
    return problems


def kubernetes_validate(paths: list[Path]) -> str:
    """What kubernetes-validate --strict says of the manifests in `paths` ('' when they are
    valid): an unknown field fails, and a warning counts as a failure."""
    result = subprocess.run(
        [
            str(BIN / "kubernetes-validate"),
            "--strict",
            "--quiet",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or report:
        return f"kubernetes-validate failed ({result.returncode}):\n{report}"
    return ""


# ---- checkov: Terraform, the built Kubernetes manifests and the Dockerfiles, one run ---------
# checkov takes about 30 s to start, and most shards render the same few Terraform roots,
# overlays and Dockerfiles. So each item that passed is remembered across processes (and
# runs), keyed by its content, this module and checkov's version; a changed item or tool is
# checked again, and a failing one is never remembered.
CHECKOV_PASSED = Path(tempfile.gettempdir()) / "mlops-template-checkov-passed"


def checkov_version() -> str:
    site = CHECKOV.parent.parent / "lib"
    return ",".join(sorted(p.name for p in site.glob("python*/site-packages/checkov-*.dist-info")))


def ray_pods(job: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pods a RayJob makes KubeRay create, as plain Pods for checkov, whose Kubernetes
    checks know the API's own kinds only (a RayJob's pod templates go unchecked otherwise):
    the head with the autoscaler sidecar KubeRay adds from autoscalerOptions, each worker
    group and the submitter. They carry the RayJob's annotations (checkov's skips)."""
    spec, metadata = job["spec"], job["metadata"]
    cluster = spec.get("rayClusterSpec", {})
    templates = [("head", cluster.get("headGroupSpec", {}).get("template"))]
    templates += [(g["groupName"], g.get("template")) for g in cluster.get("workerGroupSpecs", [])]
    templates.append(("submitter", spec.get("submitterPodTemplate")))
    for role, template in templates:
        if template is None:
            continue
        pod_spec = json.loads(json.dumps(template["spec"]))
        options = cluster.get("autoscalerOptions")
        if role == "head" and cluster.get("enableInTreeAutoscaling") and options is not None:
            pod_spec["containers"].append(
                {
                    "name": "autoscaler",
                    "image": options.get("image", pod_spec["containers"][0]["image"]),
                    "imagePullPolicy": options.get("imagePullPolicy", "IfNotPresent"),
                    **{
                        k: v
                        for k, v in options.items()
                        if k in ("resources", "securityContext", "env")
                    },
                    "volumeMounts": options.get("volumeMounts", []),
                }
            )
        yield {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{metadata['name']}-{role}",
                "namespace": metadata.get("namespace"),
                "labels": template.get("metadata", {}).get("labels", {}),
                "annotations": metadata.get("annotations", {}),
            },
            "spec": pod_spec,
        }


def with_ray_pods(output: Path) -> None:
    """Append to a built overlay the pods of its RayJobs (ray_pods)."""
    documents = [d for d in yaml.safe_load_all(output.read_text(encoding="utf-8")) if d]
    pods = [pod for d in documents if d.get("kind") == "RayJob" for pod in ray_pods(d)]
    if pods:
        output.write_text(yaml.safe_dump_all([*documents, *pods], sort_keys=False), "utf-8")


def checkov(projects: list[Path]) -> list[str]:
    """Zero failed checks (a skip needs its reason inline, beside the resource) and zero
    parsing errors: checkov exits 0 on HCL it cannot parse, so that is asserted too."""
    roots = terraform_roots(projects)
    dockerfiles = distinct(files(projects, is_dockerfile))
    if not (roots or dockerfiles or files(projects, is_overlay)):
        return []
    if not CHECKOV.exists():
        return [f"checkov is not installed at {CHECKOV}: run .ci/run (it creates that venv)"]
    salt = checkov_version() + digest(Path(__file__))
    with scratch() as directory:
        (directory / "kubernetes").mkdir()
        built, problems = build_overlays(projects, directory / "kubernetes")
        items: dict[str, tuple[list[Path], str, Path]] = {}  # key -> (files, staged as, origin)
        for root in roots.values():
            tf_files = sorted(root.glob("*.tf"))
            items[digest(*tf_files)] = (tf_files, "terraform", root)
        for dockerfile in dockerfiles:
            items[digest(dockerfile)] = ([dockerfile], "docker", dockerfile)
        for output, overlay in built.items():
            with_ray_pods(output)
            items[digest(output)] = ([output], "kubernetes-built", overlay)
        origin: dict[str, Path] = {}
        for key, (item_files, kind, source) in items.items():
            if (CHECKOV_PASSED / hashlib.sha256((key + salt).encode()).hexdigest()).exists():
                continue
            target = directory / "scan" / kind / key
            target.mkdir(parents=True)
            for path in item_files:
                shutil.copy2(path, target / path.name)
            origin[f"{kind}/{key}"] = source
        if not origin:
            return problems
        result = subprocess.run(
            [
                str(CHECKOV),
                *("--directory", str(directory / "scan")),
                *("--framework", "terraform", "kubernetes", "dockerfile"),
                *("--skip-download", "--output", "json", "--quiet", "--compact"),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=directory / "scan",
            env={**os.environ, "HCL_PARSE_TIMEOUT_SEC": "10", "LOG_LEVEL": "ERROR"},
        )
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            return [f"checkov failed ({result.returncode}):\n{result.stdout}{result.stderr}"]
        failed: set[str] = set()
        for report in data if isinstance(data, list) else [data]:
            problems += checkov_problems(report, origin, failed)
        if not problems:
            CHECKOV_PASSED.mkdir(exist_ok=True)
            for prefix in set(origin) - failed:
                key = prefix.split("/")[1]
                (CHECKOV_PASSED / hashlib.sha256((key + salt).encode()).hexdigest()).touch()
    return problems


def checkov_problems(
    report: dict[str, Any], origin: dict[str, Path], failed: set[str]
) -> list[str]:
    """The report's failed checks and parsing errors, named by the rendered file they are
    about; the prefixes of the items concerned are added to `failed`."""

    def where(file_path: str) -> str:
        relative = file_path.lstrip("/")
        for prefix, source in origin.items():
            if relative.startswith(prefix):
                failed.add(prefix)
                return f"{source}{relative[len(prefix) :]}"
        return relative

    results = report.get("results", {})
    problems = [
        f"checkov {report.get('check_type')}: {check['check_id']} {check['check_name']} "
        f"({check['resource']} in {where(check['file_path'])}"
        f":{'-'.join(map(str, check.get('file_line_range', [])))})"
        for check in results.get("failed_checks", [])
    ]
    if report.get("summary", {}).get("parsing_errors"):
        unparsed = [where(str(path)) for path in results.get("parsing_errors", [])]
        problems.append(f"checkov {report.get('check_type')} could not parse: {unparsed}")
    return problems


# ---- Workflows ----------------------------------------------------------------------------
# zizmor findings accepted, each with its reason: (rule, file name or "*"). None is: the
# rendered .github/zizmor.yml and inline `# zizmor: ignore[rule]` comments carry the
# project's own reasons. Anything zizmor reports is a problem.
ZIZMOR_EXPLAINED: dict[tuple[str, str], str] = {}


def workflow_security(projects: list[Path]) -> list[str]:
    """zizmor (offline audits) on every GitHub workflow: no finding without a reason."""
    workflows = distinct(files(projects, is_workflow))
    if not workflows:
        return []
    result = subprocess.run(
        [
            str(BIN / "zizmor"),
            *("--offline", "--format", "json", "--no-progress"),
            *map(str, workflows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        findings = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"zizmor failed ({result.returncode}):\n{result.stdout}{result.stderr}"]
    problems = []
    for finding in findings:
        if finding.get("ignored"):  # an inline `# zizmor: ignore[rule]` with its reason
            continue
        rule = finding["ident"]
        for location in finding["locations"]:
            if location["symbolic"]["kind"] != "Primary":
                continue
            local = location["symbolic"]["key"]["Local"]
            path = local.get("verbatim_path") or local.get("given_path", "?")
            if (rule, "*") in ZIZMOR_EXPLAINED or (rule, Path(path).name) in ZIZMOR_EXPLAINED:
                continue
            line = location["concrete"]["location"]["start_point"]["row"] + 1
            problems.append(f"zizmor {rule}: {finding['desc']} ({path}:{line})")
    return problems


# Steps that turn a CI provider's OIDC token into cloud credentials, and the inputs that
# would feed them a long-lived key instead.
OIDC_ACTIONS = {
    "aws-actions/configure-aws-credentials": ("role-to-assume", {"aws-secret-access-key"}),
    "google-github-actions/auth": ("workload_identity_provider", {"credentials_json"}),
    "azure/login": ("client-id", {"creds"}),
}
# A command that talks to a cloud needs credentials.
CLOUD_COMMAND = re.compile(
    r"(^|[\s;&|(])(aws|gcloud|gsutil|az|terraform (init|plan|apply)|deploy/\w+/deploy\.sh)\b"
)
STATIC_KEYS = re.compile(
    r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|GOOGLE_APPLICATION_CREDENTIALS|ARM_CLIENT_SECRET"
    r"|AZURE_CLIENT_SECRET"
)


# Google's client libraries read GOOGLE_APPLICATION_CREDENTIALS: in a job with an ID token,
# the credential configuration written from that token (.gcp-oidc) holds no key.
KEYLESS = ("GOOGLE_APPLICATION_CREDENTIALS", "$GCP_CREDENTIAL_CONFIG")


def github_oidc_problems(workflow: Path) -> list[str]:
    try:
        data = yaml.safe_load(workflow.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        return [f"{workflow}: not YAML: {error}"]
    problems = []
    for name, job in (data.get("jobs") or {}).items():
        where = f"{workflow}: job {name}"
        permissions = job.get("permissions", data.get("permissions")) or {}
        token = isinstance(permissions, dict) and permissions.get("id-token") == "write"
        if str(job.get("uses", "")).startswith("./.github/workflows/"):
            called = workflow.parent / Path(job["uses"]).name
            if github_cloud_jobs(called) and not token:
                problems.append(f"{where} calls a cloud workflow without id-token: write")
            continue
        steps = composite_steps(workflow, job.get("steps") or [])
        text = json.dumps(steps)
        if STATIC_KEYS.search(text):
            problems.append(f"{where} handles a long-lived cloud key")
        authenticates = False
        for step in steps:
            action = str(step.get("uses", "")).split("@")[0]
            if action in OIDC_ACTIONS:
                needed, forbidden = OIDC_ACTIONS[action]
                inputs = step.get("with") or {}
                if needed not in inputs or forbidden & set(inputs):
                    problems.append(f"{where}: {action} without OIDC ({needed})")
                authenticates = True
        cloud = any(CLOUD_COMMAND.search(str(step.get("run", ""))) for step in steps)
        if (cloud or authenticates) and not (authenticates and token):
            problems.append(f"{where} talks to a cloud without OIDC (id-token: write + role)")
    return problems


def composite_steps(workflow: Path, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps, with each of the repository's own composite actions (`uses: ./path`)
    replaced by its steps: a job signs in to a cloud through one."""
    expanded = []
    for step in steps:
        uses = str(step.get("uses", ""))
        action = workflow.parents[2] / uses / "action.yml"
        if uses.startswith("./") and action.is_file():
            runs = (yaml.safe_load(action.read_text(encoding="utf-8")) or {}).get("runs", {})
            expanded += composite_steps(workflow, runs.get("steps") or [])
        else:
            expanded.append(step)
    return expanded


def github_cloud_jobs(workflow: Path) -> bool:
    if not workflow.exists():
        return False
    text = workflow.read_text(encoding="utf-8")
    return any(action in text for action in OIDC_ACTIONS) or bool(CLOUD_COMMAND.search(text))


def gitlab_oidc_problems(project: Path) -> list[str]:
    """Every GitLab job (with its `extends`) that runs a cloud command has an ID token."""
    sources = [project / ".gitlab-ci.yml", *sorted((project / ".gitlab").glob("*.yml"))]
    jobs: dict[str, dict[str, Any]] = {}
    for source in sources:
        if source.exists():
            try:
                data = yaml.load(source.read_text(encoding="utf-8"), GitLabLoader) or {}
            except yaml.YAMLError as error:
                return [f"{source}: not YAML: {error}"]
            jobs.update({k: v for k, v in data.items() if isinstance(v, dict)})

    def resolved(name: str, key: str) -> Any:
        job = jobs.get(name, {})
        if key in job:
            return job[key]
        parents = job.get("extends", [])
        for parent in reversed([parents] if isinstance(parents, str) else parents):
            value = resolved(parent, key)
            if value is not None:
                return value
        return None

    def lines(items: list[Any]) -> list[Any]:
        """A script with its `!reference`s replaced by the lines they name."""
        return [
            line
            for item in items
            for line in (lines(resolved(*item) or []) if isinstance(item, Reference) else [item])
        ]

    problems = []
    for name in jobs:
        if name.startswith("."):
            continue
        script = [*(resolved(name, "before_script") or []), *(resolved(name, "script") or [])]
        commands = lines(script)
        variables = dict(resolved(name, "variables") or {})
        if resolved(name, "id_tokens") and variables.get(KEYLESS[0]) == KEYLESS[1]:
            del variables[KEYLESS[0]]
        if STATIC_KEYS.search(json.dumps([commands, variables])):
            problems.append(f"{project}: GitLab job {name} handles a long-lived cloud key")
        cloud = any(CLOUD_COMMAND.search(str(command)) for command in commands)
        if cloud and not resolved(name, "id_tokens"):
            problems.append(f"{project}: GitLab job {name} talks to a cloud without id_tokens")
    return problems


def cloud_ci_uses_oidc(projects: list[Path]) -> list[str]:
    """Every CI job that reaches a cloud authenticates with the CI provider's OIDC token,
    and none handles a long-lived key."""
    problems = []
    for workflow in distinct(files(projects, is_workflow)):
        problems += github_oidc_problems(workflow)
    for project in projects:
        if (project / ".gitlab-ci.yml").exists():
            problems += gitlab_oidc_problems(project)
    return problems


# ---- Credentials ----------------------------------------------------------------------------
CREDENTIALS = re.compile(
    "|".join(
        (
            r"\b(AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b",  # AWS access key id
            r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}",
            r"-----BEGIN (RSA |EC |OPENSSH |DSA |PGP |ENCRYPTED )?PRIVATE KEY",
            r"\bgh[pousr]_[A-Za-z0-9]{36}\b",  # GitHub tokens
            r"\bglpat-[A-Za-z0-9_-]{20}",  # GitLab personal access token
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}",  # Slack
            r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
            r"\"private_key_id\":\s*\"[0-9a-f]{40}\"",  # Google service account key
            r"AccountKey=[A-Za-z0-9+/]{40,}",  # Azure storage
            r"(password|passwd|secret|token)\s*[=:]\s*['\"][^'\"\s$<{]{12,}['\"]",
        )
    ),
    re.IGNORECASE,
)


def no_credentials(projects: list[Path]) -> list[str]:
    """No rendered file holds anything that looks like a credential."""
    problems = []
    text_files = files(projects, lambda p: p.suffix not in {".csv", ".ipynb"})
    for path in distinct(text_files):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if CREDENTIALS.search(line):
                problems.append(f"{path}:{number}: looks like a credential: {line.strip()[:80]}")
    return problems


ALL_CLOUD_CHECKS = (
    terraform_files,
    terraform_references,
    kubernetes_manifests,
    checkov,
    workflow_security,
    cloud_ci_uses_oidc,
    no_credentials,
)
