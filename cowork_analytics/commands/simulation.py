"""Simulated organisations: `generate` and `compliance-emulator`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cowork_analytics.options import console


def generate(
    output: Annotated[
        Path, typer.Option(help="Folder to write otel/, compliance/ and ground_truth/ into.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    users: Annotated[int, typer.Option(min=1, help="People in the organisation.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days simulated.")] = 14,
    end_date: Annotated[
        str | None, typer.Option(help="Last simulated day (YYYY-MM-DD, UTC); default today.")
    ] = None,
    rotate_mb: Annotated[
        float, typer.Option(help="Rotate the live file past this many MB.")
    ] = 16.0,
    file_format: Annotated[
        str, typer.Option("--format", help="The exporter's format: json or proto.")
    ] = "json",
    compression: Annotated[
        str, typer.Option(help="The exporter's compression: none or zstd (per message).")
    ] = "none",
    native_zstd: Annotated[
        bool, typer.Option(help="The nativeCompression gate: a standard .zst stream.")
    ] = False,
) -> None:
    """Simulate an organisation: collector files, Compliance records and ground truth."""
    from simulation.collector import FileFormat
    from simulation.generate import generate as run_generation

    try:
        exporter_format = FileFormat(file_format, compression, native_zstd)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    result = run_generation(
        output,
        seed=seed,
        users=users,
        days=days,
        end_date=date.fromisoformat(end_date) if end_date else None,
        rotate_megabytes=rotate_mb,
        file_format=exporter_format,
    )
    console.print(
        f"Generated {result.events:,} events ({result.lines:,} lines, {result.files} files, "
        f"{result.bytes / 1e6:,.1f} MB) for {result.users} users, "
        f"{result.start_date} to {result.end_date}, "
        f"in {result.seconds:.1f} s ({result.events_per_second:,.0f} events/s)."
    )
    console.print(f"OTel files: {result.otel_dir}")


def compliance_emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8788,
    seed: Annotated[int, typer.Option(help="Seed of the organisation and of the faults.")] = 7,
    users: Annotated[int, typer.Option(min=1, help="People in the organisation.")] = 50,
    days: Annotated[int, typer.Option(min=1, help="Days of activity, ending today (UTC).")] = 14,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests answered with a fault.")
    ] = 0.0,
    api_key: Annotated[
        str | None, typer.Option(help="Accept only this key (default: any non-empty key).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Serve an existing generator `compliance/` folder instead.")
    ] = None,
) -> None:
    """Serve a generated organisation as Anthropic's Compliance API, on 127.0.0.1."""
    import tempfile

    from simulation.compliance_emulator import ComplianceEmulator, EmulatorData
    from simulation.generate import generate as run_generation

    if data is None:
        scratch = Path(tempfile.mkdtemp(prefix="compliance-emulator-"))
        run_generation(scratch, seed=seed, users=users, days=days)
        data = scratch / "compliance"
    emulator = ComplianceEmulator(
        EmulatorData.load(data), port=port, api_key=api_key, fault_rate=fault_rate, seed=seed
    )
    console.print(
        f"Compliance API emulator on {emulator.url} (fault rate {fault_rate:g}); Ctrl-C stops it."
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        emulator.stop()
