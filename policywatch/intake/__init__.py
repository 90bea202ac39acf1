"""One run's intake: every source listed, then every issue processed concurrently.

The per-host limits of the one polite client are the only brake: issues run concurrently (up to
``intake.issue_concurrency``), each fetching its page and then its notices while other issues
still load, and a notice cited twice is fetched once. Documents are parsed in the process pool.
Each issue is recorded in its own transaction as soon as it is done, so a crash mid-backfill
loses nothing already recorded and a failing issue holds up no other. Notice rows are written in
batches (a notice is not part of its issue's transaction: an issue recorded before a crash finds
its missing notices again through the retry step).

Prefect does not appear here: the flow passes ``runner`` callables that wrap an issue or a source
in a task; without them (benchmarks, tests) the same code runs as plain coroutines.

Modules: ``core`` (Intake: one candidate end to end), ``notices`` (the run's notice reader and
the backoff), ``ministry`` (list entries as notice items), ``retry`` (the retry step), ``run``
(run_intake, run_plain), ``results`` (what a candidate became; runners).
"""

from policywatch.intake.core import Intake
from policywatch.intake.ministry import alerted_now
from policywatch.intake.notices import NOTICE_BATCH, NoticeReader, retry_for
from policywatch.intake.results import IssueFailed, IssueResult, Runner, plain_runner
from policywatch.intake.run import Runners, issue_label, process_all, run_intake, run_plain

__all__ = [
    "NOTICE_BATCH",
    "Intake",
    "IssueFailed",
    "IssueResult",
    "NoticeReader",
    "Runner",
    "Runners",
    "alerted_now",
    "issue_label",
    "plain_runner",
    "process_all",
    "retry_for",
    "run_intake",
    "run_plain",
]
