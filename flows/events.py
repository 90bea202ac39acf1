"""The Prefect events a run with problems (or a failed run) emits, for Automations to act on.

``policywatch.run.problems``: the run completed with problems; ``policywatch.run.failed``: it
failed. The resource is ``policywatch.run.<run id>`` (Prefect relates the flow run, the flow and
the deployment by itself); the payload is ``policywatch.health.payload``: verdict, problems,
sources with their failure counts, the delivery's outcome. No URL of a channel, no secret.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.events import emit_event
from prefect.runtime import flow_run

from policywatch.health import payload
from policywatch.summary import RunSummary

__all__ = ["EVENT_FAILED", "EVENT_PROBLEMS", "announce"]

EVENT_PROBLEMS = "policywatch.run.problems"
EVENT_FAILED = "policywatch.run.failed"


def announce(summary: RunSummary, flow_name: str) -> None:
    """Emit the run's event when it failed or has problems (a clean run emits nothing)."""
    if summary.verdict == "clean" and not summary.problems:
        return
    event = EVENT_FAILED if summary.failure else EVENT_PROBLEMS
    resource = {
        "prefect.resource.id": f"policywatch.run.{summary.run_id}",
        "prefect.resource.name": flow_run.get_name() or flow_name,
        "policywatch.flow": flow_name,
        "policywatch.verdict": summary.verdict,
    }
    try:
        emit_event(event=event, resource=resource, payload=payload(summary, flow_name))
    except Exception as exc:  # an event is a notification: never fail the run over it
        get_run_logger().warning("could not emit %s: %s", event, exc)
