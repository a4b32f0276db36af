"""Metaflow flow for continuous monitoring: drift, skew and live quality of the traffic the
API logged, and the champion's age (`traffic.monitor_logged_traffic`). Deployed to Argo
Workflows it runs daily (@schedule) and, when retraining is recommended, publishes the event
that triggers training_flow.py (@trigger). Run locally (`make flow-monitor`) it reports and
publishes nothing.
"""

from __future__ import annotations

from metaflow import FlowSpec, schedule, step
from metaflow.plugins.argo.argo_events import ArgoEvent  # metaflow.integrations re-exports it

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.monitoring.traffic import monitor_logged_traffic

# The event training_flow.py's @trigger listens for.
RETRAINING_EVENT = "{{ cookiecutter.project_slug }}.retraining_recommended"


@schedule(daily=True)
class MonitoringFlow(FlowSpec):
    """Continuous monitoring; retraining happens in TrainingFlow, on this flow's event."""

    @step
    def start(self) -> None:
        summary = monitor_logged_traffic(get_settings())  # None: too little traffic to judge
        self.retraining_recommended = summary is not None and summary.retraining_recommended
        self.reasons = summary.reasons if summary is not None else []
        self.drift_share = summary.drift_share if summary is not None else None
        if self.retraining_recommended:
            print("retraining recommended:", "; ".join(self.reasons))
            # Sent only when running on Argo Workflows (force=False); a no-op locally.
            event = ArgoEvent(RETRAINING_EVENT)  # type: ignore[no-untyped-call]
            event.publish(payload={"reasons": self.reasons}, force=False)  # type: ignore[no-untyped-call]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


if __name__ == "__main__":
    MonitoringFlow()  # type: ignore[no-untyped-call]
