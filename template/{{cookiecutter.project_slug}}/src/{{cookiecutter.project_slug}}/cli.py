"""The command line: one subcommand per pipeline step, plus `pipeline` for all of them.
Run `{{ cookiecutter.project_slug | replace('_', '-') }} --help` for the list."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from .config import ConfigurationError, Settings, configure_logging, get_settings
from .termination import exit_on_sigterm

# The scientific stack is imported by the commands that need it, after the settings are
# read: a configuration error (and --help) answers at once.

PROJECT = "{{ cookiecutter.project_name }}"

app = typer.Typer(
    help=f"{PROJECT}: train, gate, serve and monitor the model.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
# soft_wrap: a line is never broken at the terminal's width (nor at 80 columns in a log).
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Show every library's logs and warnings, and tracebacks."
        ),
    ] = False,
) -> None:
    """Settings come from params.yaml and {{ cookiecutter.project_slug | upper }}_* variables."""
    configure_logging(verbose)
    if threading.current_thread() is threading.main_thread():  # where signals are handled
        exit_on_sigterm(lambda: console.print("[bold red]terminated[/] (SIGTERM)"))


def _fail(message: str) -> typer.Exit:
    """One line on what is wrong (a traceback only with --verbose, from the caller)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def _settings() -> Settings:
    """The settings, with the data contract read, or one line naming the file (or variable)
    and key that is wrong."""
    try:
        settings = get_settings()
        import_module(f"{__package__}.data.contract")  # reads and checks contract.yaml
    except ConfigurationError as error:
        if _verbose():
            raise
        raise _fail(str(error)) from None
    return settings


def _verbose() -> bool:
    """--verbose was given (its logging shows the project's DEBUG lines)."""
    return logging.getLogger(__package__).isEnabledFor(logging.DEBUG)


@contextmanager
def _in_one_line(*errors: type[Exception]) -> Iterator[None]:
    """Any of `errors` ends the command in one line (with --verbose, its traceback)."""
    from .data.contract import DataContractError

    try:
        yield
    except errors as error:
        if _verbose():
            raise
        message = error.one_line() if isinstance(error, DataContractError) else str(error)
        raise _fail(message) from None


def _report(result: object, settings: Settings) -> None:
    """One line on what a step did."""
    from .data.ingest import ProcessedPaths
    from .registry.gate import PromotionDecision
    from .registry.model_store import ModelMetadata
    from .tasks import TASK

    key, metric = TASK.primary.key, TASK.primary.label
    if isinstance(result, ProcessedPaths):
        console.print(f"[green]ingested[/] {settings.data.raw_path} -> {result.train.parent}/")
    elif isinstance(result, ModelMetadata):
        console.print(
            f"[green]trained[/] {result.name} v{result.version}: "
            f"{metric} {result.metrics[f'cv_{key}_mean']:.3f} cross-validated, "
            f"{result.metrics[key]:.3f} held-out "
            f"(baseline {result.metrics[f'baseline_{key}']:.3f}); "
            f"report in {settings.reports_dir / 'model_card.md'}"
        )
    elif isinstance(result, PromotionDecision):
        console.print(f"[{'green' if result.promote else 'yellow'}]{result}[/]")


def _run(step: str, settings: Settings) -> None:
    from .data.contract import DataContractError
    from .pipeline import STEPS
    from .registry.model_store import CorruptModelError

    (found,) = (s for s in STEPS if s.name == step)
    known = (DataContractError, FileNotFoundError, ConfigurationError, CorruptModelError)
    with _in_one_line(*known), console.status(f"Running {step}..."):  # no model, or refused
        result = found.run(settings)
    _report(result, settings)


@app.command()
def ingest() -> None:
    """Validate the raw data and write the train, test and current splits."""
    _run("ingest", _settings())


@app.command()
def train() -> None:
    """Train and evaluate a candidate; log it to the tracker and register it."""
    _run("train", _settings())


@app.command()
def promote() -> None:
    """Promote the candidate to champion if it passes the gate (the reason is printed)."""
    _run("promote", _settings())


@app.command()
def pipeline() -> None:
    """Run every step in order (ingest, train, promote)."""
    settings = _settings()
    from .pipeline import STEPS

    for step in STEPS:
        _run(step.name, settings)


@app.command()
def rollback(
    version: Annotated[str, typer.Argument(help="Registered version to serve again.")],
    sign: Annotated[
        bool, typer.Option(help="Sign it first, as a promotion does (e.g. an unsigned one).")
    ] = False,
) -> None:
    """Make an earlier model version the champion again and export it for serving."""
    settings = _settings()
    from .registry.champion import rollback as run_rollback
    from .registry.provenance import UntrustedModelError
    from .tracking import get_tracker

    with _in_one_line(LookupError, UntrustedModelError):
        target = run_rollback(settings, get_tracker(settings.tracking), version, sign_first=sign)
    console.print(f"[green]champion is now[/] {target.name} v{target.version}")


@app.command("ship-champion")
def ship_champion() -> None:
    """Export the registry's champion (by alias, no training) for the serving image."""
    settings = _settings()
    from .registry.champion import ship_champion as run_ship
    from .registry.provenance import UntrustedModelError
    from .tracking import get_tracker

    with _in_one_line(LookupError, UntrustedModelError):  # CD ships nothing unverified
        champion, challenger = run_ship(settings, get_tracker(settings.tracking))
    shipped = f"{champion.name} v{champion.version} -> {settings.serve.model_dir}"
    if challenger is not None:  # the API scores it too (shadow)
        shipped += f", challenger v{challenger.version} beside it"
    console.print(f"[green]champion[/] {shipped}")


@app.command()
def explain(
    row: Annotated[
        str | None,
        typer.Argument(help="One row as JSON, as the API takes it (default: its example)."),
    ] = None,
) -> None:
    """Step one row through the champion: its engineered features, each one's
    contribution to the score, the probability and the decision."""
    settings = _settings()
    import pandas as pd
    from pydantic import ValidationError

    from .data import ingest
    from .data.contract import EXAMPLE, Row
    from .registry import model_store
    from .training.explain import explain as run_explain
    from .training.explain import print_explanation

    try:
        model, metadata = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
        reference = ingest.read_processed(
            ingest.ProcessedPaths.under(settings.data.processed_dir).train
        )
    except FileNotFoundError as error:
        raise _fail(str(error)) from None
    try:
        values = Row(**(json.loads(row) if row else EXAMPLE))
    except (json.JSONDecodeError, ValidationError, TypeError) as error:
        raise _fail(f"not a valid row: {error}") from None
    with _in_one_line(ValueError):  # a model explain cannot step through (not binary)
        result = run_explain(model, pd.DataFrame([values.model_dump()]), reference)

    print_explanation(result, f"{metadata.name} v{metadata.version} ({metadata.model_type})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: params.yaml).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: params.yaml).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="WEB_CONCURRENCY",
            help="Worker processes (default: one per CPU this process may use).",
        ),
    ] = None,
) -> None:
    """Serve the champion over HTTP (FastAPI)."""
    settings = _settings()
    from .serving.server import available_cpus, run

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    served = settings.serve.model_copy(update=overrides)
    workers = workers or available_cpus()
    console.print(
        f"[green]serving[/] {served.model_dir} on http://{served.host}:{served.port} "
        f"({workers} worker{'s' if workers > 1 else ''}; API docs at /docs, Ctrl+C stops)"
    )
    run(settings.model_copy(update={"serve": served}), workers)


@app.command()
def score(
    source: Annotated[
        str | None, typer.Option("--input", help="CSV or Parquet file: a path or fsspec URL.")
    ] = None,
    destination: Annotated[
        str | None, typer.Option("--output", help="Parquet file: a path or fsspec URL.")
    ] = None,
) -> None:
    """Score a file with the champion, in chunks (params.yaml score.chunk_rows); rows that
    break the data contract go to <output stem>.rejects.parquet. Unset, --input and
    --output are the scheduled run's, score.input and score.output ({date}: today, UTC)."""
    settings = _settings()
    from .pipeline import score_batch
    from .serving.batch import BatchScoringError

    given = {name: url for name, url in (("input", source), ("output", destination)) if url}
    chosen = settings.model_copy(update={"score": settings.score.model_copy(update=given)})
    with _in_one_line(BatchScoringError), console.status(f"Scoring {chosen.score.input}..."):
        result = score_batch(chosen)
    console.print(f"[green]{result}[/]")


@app.command()
def monitor(
    current: Annotated[
        Path | None,
        typer.Option(
            help="CSV or Parquet batch to check, e.g. the drifted data/processed/current.parquet "
            "(default: the inference log's last inference_log.window_days)."
        ),
    ] = None,
) -> None:
    """Check logged traffic (or a batch) for drift and skew, and the champion for quality
    and age; exit 3 when retraining is recommended, 1 on training/serving skew."""
    settings = _settings()
    from .data.contract import DataContractError
    from .data.ingest import EmptyBatchError, UnreadableBatchError, read_batch

    with _in_one_line(DataContractError, FileNotFoundError, EmptyBatchError, UnreadableBatchError):
        if current is not None:  # a missing, empty or invalid batch: before Evidently loads
            read_batch(current)
        from .monitoring.batch import run_monitoring
        from .monitoring.traffic import monitor_logged_traffic

        with console.status("Computing the drift report..."):
            summary = (
                monitor_logged_traffic(settings)
                if current is None
                else run_monitoring(settings, current)
            )
    if summary is None:  # too little traffic: the warning above says how much
        return
    colour = "red" if summary.retraining_recommended else "green"
    verdict = summary.verdict()  # with quality estimated (no labels) and realized
    console.print(
        f"[{colour}]{verdict}[/] (drift share {summary.drift_share:.2f}, threshold "
        f"{settings.monitor.drift_share_threshold:.2f}); report in {settings.monitor.reports_dir}"
    )
    if summary.skew is not None and summary.skew.detected:
        raise _fail(
            f"training/serving skew: {summary.skew.skewed_rows} of {summary.skew.rows} served "
            f"probabilities differ from the champion's offline scores"
        )
    if summary.retraining_recommended:
        from .monitoring.summary import DRIFT_EXIT_CODE

        raise typer.Exit(code=DRIFT_EXIT_CODE)


@app.command("signing-key")
def signing_key() -> None:
    """Make the key pair that signs promoted models offline (params.yaml sign), if missing."""
    from .registry.provenance import ensure_key_pair

    key = _settings().sign.private_key
    console.print(f"[green]model signing key[/] {key}, public {ensure_key_pair(key)}")


@app.command("delivery-metrics")
def delivery_metrics() -> None:
    """Deployment frequency, lead time, time to restore and change failure rate, from the
    registry's ledger; written to reports/delivery.json."""
    settings = _settings()
    from .monitoring.delivery import DELIVERY_FILE, delivery_table, report_delivery
    from .tracking import get_tracker

    console.print(delivery_table(report_delivery(settings, get_tracker(settings.tracking))))
    console.print(f"written to {settings.reports_dir / DELIVERY_FILE}")


@app.command()
def ct() -> None:
    """Continuous training: ingest, train and promote, unless nothing changed since the
    champion was trained; in CI, only with a shared model registry."""
    settings = _settings()
    from .pipeline import STEPS
    from .registry.retraining import NoSharedStoreError, nothing_to_retrain

    with _in_one_line(NoSharedStoreError):
        reason = nothing_to_retrain(settings)
    if reason is not None:
        console.print(f"[green]{reason}[/]")
        return
    for step in STEPS:
        _run(step.name, settings)


@app.command()
def simulate(
    days: Annotated[int, typer.Option(min=4, help="Days of traffic to replay.")] = 8,
    drift_day: Annotated[int, typer.Option(min=2, help="First day of drifted traffic.")] = 4,
    scenario: Annotated[
        Literal["drift", "rollback", "shadow"], typer.Option(help="simulate_<scenario>.py")
    ] = "drift",
) -> None:
    """Replay days of traffic through the API and act on it, in a scratch workspace."""
    settings = _settings()
    from . import simulate, simulate_rollback, simulate_shadow

    if scenario == "rollback":
        simulate_rollback.run_rollback_simulation(settings, days=days, console=console)
    elif scenario == "shadow":
        simulate_shadow.run_shadow_simulation(settings, days=days, console=console)
    else:
        simulate.run_simulation(settings, days=days, drift_day=drift_day, console=console)


@app.command()
def adopt(
    source: Annotated[str, typer.Argument(help="The labelled data: a CSV file or http(s) URL.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    task: Annotated[Literal["binary", "multiclass", "regression"] | None, typer.Option()] = None,
    sensitive: Annotated[list[str] | None, typer.Option(help="For fairness checks only.")] = None,
    identifier: Annotated[str | None, typer.Option("--id", help="Names each row.")] = None,
    event_time: Annotated[str | None, typer.Option("--time", help="Says when.")] = None,
    positive: Annotated[str | None, typer.Option(help="Class to score if not 0/1.")] = None,
) -> None:
    """Bring your own data: copy a labelled CSV to data/raw/, infer its data contract
    (contract.yaml) and point params.yaml and dvc.yaml at it. Again, it changes nothing."""
    from .config import CONTRACT_FILE, PARAMS_FILE
    from .data import adopt_files
    from .data.adopt import AdoptError, Options

    options = Options(target, task, tuple(sensitive or ()), identifier, event_time, positive)
    files = adopt_files.ProjectFiles(PARAMS_FILE, CONTRACT_FILE)
    with _in_one_line(AdoptError, OSError):
        lines = adopt_files.adopt(source, options, files)
    for line in lines:
        console.print(escape(line), style="yellow" if line.startswith("warning") else None)
