"""Read-only analytics for analysts and the dashboard: sales KPIs, a recommendation explorer,
the stream's progress and the lakehouse's health.

Every figure comes from the lakehouse through :meth:`Platform.query` (or the facade's
``recommend``, ``stream_status`` and ``tables``). Before the pipelines have produced a table an
endpoint still answers 200, with empty data and a ``note`` saying what to run.
No endpoint returns PII: customers appear by number, city and country only, and contract
messages (which may quote row values) are shown to admins only.
"""

from fastapi import APIRouter, Depends

from shoplake.serve.routes.analytics import explorer, operations, sales
from shoplake.serve.routes.analytics.common import analyst_or_admin

router = APIRouter(
    prefix="/analytics", tags=["analytics"], dependencies=[Depends(analyst_or_admin)]
)
for part in (sales, explorer, operations):
    router.include_router(part.router)
