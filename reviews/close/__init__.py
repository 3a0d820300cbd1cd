"""Closing a cycle's results: one package, imported one way.

- `statements`: the SQL that computes result rows, response rates and kept comments;
- `suppression`: what is published and what is hidden, pure Python (an integer program);
- `postgres`: the PostgreSQL runner (work table, rows read while the database goes on, the
  cycle's partition swapped in);
- `compute`: the entry point, `compute_rollups(cycle)`, which `reviews.services.close_cycle`
  calls directly and HR's recomputation calls again; it writes SQLite's rows in place.

compute → postgres → statements, suppression; nothing here imports the services or the tasks.
"""

from .compute import RollupSummary, compute_rollups, refresh_open_cycles, refresh_planner_statistics
from .side import SideQueries

__all__ = [
    "RollupSummary",
    "SideQueries",
    "compute_rollups",
    "refresh_open_cycles",
    "refresh_planner_statistics",
]
