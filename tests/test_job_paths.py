"""Jobs a service queues by their dotted path name functions that exist: a typo would only
show when a worker took the job, after the row it concerns was committed."""

from __future__ import annotations

import importlib
import pkgutil

import robocall


def _job_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    for module_info in pkgutil.walk_packages(robocall.__path__, "robocall."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if name.endswith("_JOB") and isinstance(value, str) and value.startswith("robocall."):
                paths[f"{module_info.name}.{name}"] = value
    return paths


def test_every_job_queued_by_path_is_a_function_a_worker_can_import() -> None:
    paths = _job_paths()
    assert "robocall.hotline.service.SEND_ALERT_JOB" in paths
    for constant, path in paths.items():
        module_name, function_name = path.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), function_name, None)
        assert callable(function), f"{constant} = {path!r} names no function"
