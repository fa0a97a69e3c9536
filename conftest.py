"""This repository's own pytest configuration: the case files are collected by lstm-equiv's pytest plugin
(harness/plugin.py, registered by the package's ``pytest11`` entry point when lstm-equiv is installed)."""

pytest_plugins = ("pytester",)  # the harness's own tests run pytest on case files in-process
