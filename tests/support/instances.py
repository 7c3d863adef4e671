"""Open the Dagster instance of a data directory from a test process.

The instance settings (`deploy/dagster/dagster.yaml`) resolve the event log's folder from
`DAGSTER_HOME`, as every Dagster process does. A test reading another process's home sets
it while the instance is open, so the instance never reads a different home's event log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import DagsterInstance


@contextmanager
def open_instance(dagster_home: Path) -> Iterator[DagsterInstance]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(dagster_home))
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            yield instance
