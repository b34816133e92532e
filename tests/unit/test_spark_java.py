"""The Spark engine without a usable Java: one line saying what Spark needs and how to
point at it, before PySpark tries to start a JVM (it would say only that its gateway
exited)."""

from __future__ import annotations

import shutil

import pytest

from mlops_template.config import parse_config
from mlops_template.errors import PipelineError
from mlops_template.io.spark_session import check_java, spark_session


@pytest.fixture
def settings(params, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Spark's log (reports/spark/) goes here, if it starts
    return parse_config(params).predict.spark


def test_no_java_on_path_and_no_java_home(settings, tmp_path, monkeypatch):
    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java there
    with pytest.raises(PipelineError) as refused:
        spark_session(settings)
    said = str(refused.value)
    assert "needs Java 17 or later" in said and "JAVA_HOME is not set" in said
    assert "java is not on PATH" in said and "set JAVA_HOME" in said
    assert "\n" not in said


def test_a_java_home_without_java(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(PipelineError, match=rf"JAVA_HOME={tmp_path} has no bin/java"):
        check_java()


def test_a_java_too_old(tmp_path, monkeypatch):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(PipelineError, match=rf"{java} is Java 11"):
        check_java()


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on this machine")
def test_the_java_on_path_passes(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    check_java()
