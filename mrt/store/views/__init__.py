"""The console's read queries: keyset pages, "newer than", filters in SQL, metrics aggregates.

Every list is paged with a keyset on an indexed column (`WHERE id < :last ORDER BY id DESC
LIMIT n`), never OFFSET and never a whole table: a year of history must open in under a second.
Live panes ask only for rows newer than the newest they show. Filters are SQL conditions, never a
pass over loaded rows. Results are plain frozen dataclasses, so a console thread never triggers a
lazy query on its UI thread. Metrics take `now` so that tests and screenshots are deterministic.

    alerts    AlertFilter, alerts_page, alerts_newer, alerts_by_id, alert_detail, undelivered_alerts
    outbox    OutboxFilter, outbox_page, outbox_by_id, count_outbox, outbox_ceiling, outbox_status_counts,
              delivery_attempts
    sources   source_rows, console_status
    metrics   metrics_report
"""

from mrt.store.views.alerts import (
    AlertDetail,
    AlertFilter,
    AlertRow,
    AttemptView,
    DeliveryTrace,
    alert_detail,
    alerts_by_id,
    alerts_newer,
    alerts_page,
    undelivered_alerts,
)
from mrt.store.views.metrics import Figures, MetricsReport, QueueFigures, metrics_report
from mrt.store.views.outbox import (
    OUTBOX_STATUS_ORDER,
    QUEUED_STATUSES,
    OutboxFilter,
    OutboxPosition,
    OutboxRow,
    count_outbox,
    delivery_attempts,
    outbox_by_id,
    outbox_ceiling,
    outbox_condition,
    outbox_page,
    outbox_row,
    outbox_status_counts,
)
from mrt.store.views.sources import ConsoleStatus, SourceRow, console_status, source_rows

__all__ = [
    "OUTBOX_STATUS_ORDER",
    "QUEUED_STATUSES",
    "AlertDetail",
    "AlertFilter",
    "AlertRow",
    "AttemptView",
    "ConsoleStatus",
    "DeliveryTrace",
    "Figures",
    "MetricsReport",
    "OutboxFilter",
    "OutboxPosition",
    "OutboxRow",
    "QueueFigures",
    "SourceRow",
    "alert_detail",
    "alerts_by_id",
    "alerts_newer",
    "alerts_page",
    "console_status",
    "count_outbox",
    "delivery_attempts",
    "metrics_report",
    "outbox_by_id",
    "outbox_ceiling",
    "outbox_condition",
    "outbox_page",
    "outbox_row",
    "outbox_status_counts",
    "source_rows",
    "undelivered_alerts",
]
