"""The shipped collector configuration writes what the landing reads."""

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "otel-collector" / "config.yaml"


def test_collector_config_matches_what_we_read() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    http = config["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"].endswith(":4318")  # Cowork exports over OTLP/HTTP only
    assert http["auth"]["authenticator"] == "bearertokenauth"
    assert {"cert_file", "key_file"} <= http["tls"].keys()
    exporters = config["exporters"]
    for name in ("file/logs", "file/metrics"):
        assert exporters[name]["format"] in ("json", "proto")
        assert exporters[name]["rotation"]["max_megabytes"] > 0
        assert "compression" not in exporters[name] or exporters[name]["compression"] == "zstd"
    pipelines = config["service"]["pipelines"]
    assert pipelines["logs"]["exporters"] == ["file/logs"]
    assert pipelines["metrics"]["exporters"] == ["file/metrics"]
    assert config["service"]["extensions"] == ["bearertokenauth", "health_check"]
    # The health endpoint answers without a token: loopback only.
    assert config["extensions"]["health_check"]["endpoint"].startswith("127.0.0.1:")
    batch = config["processors"]["batch"]
    assert 0 < batch["send_batch_max_size"] <= batch["send_batch_size"]
