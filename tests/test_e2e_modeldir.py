"""The model directory source through the real `mrt-worker --once`: a silent baseline of the
models on disk, a new model folder alerted once to the loopback webhook, no repeat; and `mrt
check` naming the source and warning about a path that does not exist."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    cycle_report,
    install_robot,
    loopback_config,
    product_env,
    robot_texts,
)


def product_with(tmp_path: Path, httpserver: HTTPServer, *paths: Path) -> Product:
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["modeldir"] = {"paths": [str(p) for p in paths]}
    data["watch_keywords"] = [*data.get("watch_keywords", []), "qwen"]
    config.write_text(json.dumps(data), encoding="utf-8")
    return Product(config, product_env(tmp_path / "home", httpserver))


def test_modeldir_baseline_then_a_new_model_folder_alerts_once(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    models = tmp_path / "models"
    (models / "llama-7b").mkdir(parents=True)
    (models / "llama-7b/config.json").write_text("{}", encoding="utf-8")
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    product = product_with(tmp_path, httpserver, models)
    key = f"modeldir:{models}"

    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    assert product.sources()[key]["key"] == key  # `mrt sources` lists it
    assert robot_texts(robot) == []

    (models / "qwen3-8b").mkdir()
    (models / "qwen3-8b/model.safetensors").write_bytes(b"\0" * 64)
    assert cycle_report(product.worker_once())[key] == ("ok", 1, 1)
    (text,) = [t for t in robot_texts(robot) if "qwen3-8b" in t]
    assert "New model" in text

    sent = len(robot.received)
    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    assert len(robot.received) == sent


def test_mrt_check_lists_the_source_and_warns_about_a_missing_path(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    present = tmp_path / "models"
    present.mkdir()
    Upstreams(httpserver)
    install_robot(httpserver)
    product = product_with(tmp_path, httpserver, present, tmp_path / "absent")
    done = product.mrt("check", "--config", str(product.config))
    lines = done.stdout.splitlines()
    assert "ok    sources: github, huggingface, modelscope, modeldir" in lines
    absent = tmp_path / "absent"
    assert (f"warn  sources.modeldir: {absent}: does not exist: its polls fail until it exists"
            in lines)
    assert not any(str(present) in line for line in lines)
    assert lines[-1] == "check: ready: 0 error(s), 1 warning(s)"  # a warning, exit 0
    # the worker: the missing path fails its own instance, the present one is polled
    done = product.worker_once(expect=3)  # 3: a source failed this cycle
    report = cycle_report(done)
    assert report[f"modeldir:{present}"] == ("ok", 0, 0)
    assert report[f"modeldir:{absent}"][0] == "failed"
    assert f"{absent} does not exist" in done.stdout
    assert {k: v for k, v in report.items() if not k.startswith("modeldir:")} and all(
        v[0] == "ok" for k, v in report.items() if not k.startswith("modeldir:"))
