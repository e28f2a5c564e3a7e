"""Embargo DAG: an embargoed release becomes visible at its calendar instant.

After every publish run (the ``published_release`` asset), ``next_embargo`` reads when
the first release waiting in ``embargoed/`` is due. If one waits, ``wait_for_embargo``
defers to the triggerer until that instant (``DateTimeSensorAsync``: no worker slot is
held while it waits, for minutes or weeks) and ``release_due`` then moves every release
due into ``releases/`` and replaces LATEST, under the publish lock
(:func:`corridor.publish.calendar.release_due`). A newer embargoed release for the same
period replaces the waiting one; the run that wakes releases whatever is due then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import dag, task

from corridor.assets import RELEASE


@dag(
    dag_id="corridor_embargo",
    description="Release embargoed releases at their calendar instant (deferred wait)",
    schedule=[RELEASE],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    # each publish may start a wait; they do not block one another
    max_active_runs=16,
    default_args={"owner": "corridor", "retries": 2, "retry_delay": timedelta(seconds=20)},
    tags=["corridor", "publish", "embargo"],
)
def corridor_embargo():
    @task.short_circuit
    def next_embargo() -> str | None:
        """When the first embargoed release is due (ISO 8601), or None: nothing waits."""
        from corridor.config import get_settings
        from corridor.publish.calendar import next_embargo as first_due

        instant = first_due(get_settings().publish_root)
        return instant.isoformat() if instant else None

    wait_for_embargo = DateTimeSensorAsync(
        task_id="wait_for_embargo",
        target_time="{{ ti.xcom_pull(task_ids='next_embargo') }}",
    )

    @task
    def release_due() -> list[str]:
        from corridor.config import get_settings, get_warehouse_dsn
        from corridor.publish.calendar import release_due as release
        from corridor.publish.release import publish_lock

        return release(get_settings().publish_root,
                       lock=publish_lock(get_warehouse_dsn("publisher")))

    next_embargo() >> wait_for_embargo >> release_due()


corridor_embargo()
