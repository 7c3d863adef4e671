"""The OTel landing: collector files in, partitioned Parquet out."""

import dagster as dg

from ingestion.otel.land import land_otel
from orchestration.defs.resources import DataDirResource, OtelInputResource


@dg.asset(key=["otel", "events"], group_name="landing", kinds={"python", "parquet"})
def otel_events(
    context: dg.AssetExecutionContext, data_dir: DataDirResource, otel_input: OtelInputResource
) -> dg.MaterializeResult:
    """OTel log records from the collector's file exporter: one Parquet row per record.

    Partitioned by UTC event date; each run lands only bytes not landed before.
    """
    layout = data_dir.layout()
    summary = land_otel(otel_input.folders(), layout)
    context.log.info(
        f"landed {summary.records_landed} records from {summary.files_with_new_data} file(s)"
    )
    if summary.unsupported_files:
        context.log.warning(
            f"{len(summary.unsupported_files)} file(s) in an unsupported format were left unlanded"
        )
    return dg.MaterializeResult(
        metadata={**summary.as_dict(), "path": dg.MetadataValue.path(str(layout.otel_events))}
    )
