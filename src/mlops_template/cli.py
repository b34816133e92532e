"""Command line for the stages and helpers: `python -m mlops_template <command>`.

dvc.yaml, MLproject and the Makefile all call this, so every way of running the
pipeline runs the same code.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

from mlops_template import compose, stage_server_control, stop_signals
from mlops_template.cli_operate import add_operate_commands
from mlops_template.config import load_config
from mlops_template.error_report import run_reporting_errors
from mlops_template.errors import redact
from mlops_template.io.store import use_configured_uri
from mlops_template.stages import summaries

# Stage name -> what it does, from the stage modules' docstrings: a module is imported
# only when its stage runs (stages pull in pandas and scikit-learn, which take seconds).
STAGES = summaries()


def _apply_overrides(values: list[str]) -> None:
    """Recompose params.yaml with the overrides (as `dvc exp run -S` does), if any."""
    if overrides := compose.split_overrides(values):
        from mlops_template.io.workspace_lock import refuse_held

        refuse_held("`params.yaml` recomposed with overrides")  # not under ct's tries
        compose.write_params(Path.cwd(), overrides)
        # redact: an override may set a data URL with its token (data.path=...)
        print(f"params.yaml recomposed with {redact(' '.join(overrides))}", file=sys.stderr)


def _run_stage(args: argparse.Namespace) -> int:
    from mlops_template.stages.runner import run_stage

    _apply_overrides(args.overrides)
    module = import_module(f"mlops_template.stages.{args.command}")
    run_stage(args.command, module.run)
    return 0


def _repro(args: argparse.Namespace) -> int:
    """The whole DAG through DVC: unchanged stages are skipped, dvc.lock is updated."""
    _apply_overrides(args.overrides)
    return subprocess.run(["dvc", "repro"], check=False).returncode


def _params(args: argparse.Namespace) -> int:
    from mlops_template.conf_edits import params_command

    return params_command(Path.cwd(), args.action, args.overrides)


def _exp(args: argparse.Namespace) -> int:
    from mlops_template.core.validation_report import ValidationReport
    from mlops_template.experiments import best

    cfg = load_config()
    if Path(cfg.paths.validation).is_file():  # the gate's metric for the task
        metrics = [getattr(cfg.gate, ValidationReport.read(cfg.paths.validation).task).metric]
    else:  # queued experiments leave no outputs here: the metric their cv.json holds
        metrics = [cfg.gate.classification.metric, cfg.gate.regression.metric]
    return best(cfg.paths.cv, metrics, cfg.paths.metrics, cfg.paths.train, apply=args.apply)


def _tune(_args: argparse.Namespace) -> int:
    from mlops_template.experiments import keep_tuned

    overrides = keep_tuned(Path.cwd(), load_config().paths.tuned)
    print("kept in conf/: " + " ".join(overrides))
    print("with tune=none (conf/config.yaml) `dvc repro` trains with them, without a search")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from mlops_template.release.promote import promote

    return promote(load_config(), args.dry_run, args.verbose)


def _rollback(args: argparse.Namespace) -> int:
    from mlops_template.release.rollback import rollback

    return rollback(load_config(), args.to or None, force=args.force)


def _reproduce(args: argparse.Namespace) -> int:
    from mlops_template.release.reproduce import reproduce

    return reproduce(load_config(), args.version, args.verbose)


def _dvc_gc(args: argparse.Namespace) -> int:
    from mlops_template.release.data_gc import dvc_gc

    return dvc_gc(load_config(), args.dry_run)


def _retire(args: argparse.Namespace) -> int:
    from mlops_template.release.retire import retire

    return retire(load_config(), args.dry_run, args.delete)


def _project(args: argparse.Namespace) -> int:
    from mlops_template.project_files import command

    return command(Path.cwd(), args.action)


def _flag(value: str) -> bool:
    """`--dry-run`, `--dry-run=true` and `--dry-run=false` (MLproject passes a value)."""
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no", ""}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    overrides_help = "Hydra overrides (model=random_forest model.n_estimators=50)"
    for stage, summary in STAGES.items():
        sub = commands.add_parser(stage, help=summary)
        sub.add_argument("overrides", nargs="*", help=overrides_help)
        sub.set_defaults(func=_run_stage)
    promote = commands.add_parser(
        "promote",
        help="register the dvc.lock model as challenger; champion if it passes the gate "
        "(exit 0 promoted, 3 refused, 2 error)",
    )
    flag = {"type": _flag, "nargs": "?", "const": True, "default": False}
    promote.add_argument("--dry-run", **flag, help="decide, change nothing")
    promote.add_argument(
        "--verbose", action="store_true", help="print the whole report (also in the file)"
    )
    promote.set_defaults(func=_promote)
    rollback = commands.add_parser("rollback", help="move champion back to the previous one")
    rollback.add_argument("--to", help="the version to make champion (default: previous)")
    rollback.add_argument("--force", **flag, help="crown a version the gate refused, knowingly")
    rollback.set_defaults(func=_rollback)
    gc = commands.add_parser(
        "dvc-gc",
        help="dvc gc keeping every commit's data and every registered version's files",
    )
    gc.add_argument("--dry-run", **flag, help="list, remove nothing")
    gc.set_defaults(func=_dvc_gc)
    reproduce = commands.add_parser(
        "reproduce",
        help="rebuild a registered version from its commit, data and params; say whether it "
        "is byte-identical (exit 0), or what differs (exit 3)",
    )
    reproduce.add_argument("version", nargs="?", default="champion", help="a number or alias")
    reproduce.add_argument("--verbose", action="store_true", help="the pipeline's own output")
    reproduce.set_defaults(func=_reproduce)
    retire = commands.add_parser(
        "retire", help="archive versions without an alias beyond registry.keep_versions"
    )
    retire.add_argument("--dry-run", **flag, help="list, change nothing")
    retire.add_argument("--delete", **flag, help="delete them from the registry")
    retire.set_defaults(func=_retire)
    add_operate_commands(commands, flag)
    project = commands.add_parser(
        "project",
        help="write dvc.yaml's code deps (from the imports) and MLproject's stage entry "
        "points (from dvc.yaml), or check they are up to date",
    )
    project.add_argument("action", choices=["write", "check"])
    project.set_defaults(func=_project)
    repro = commands.add_parser("repro", help="run the whole pipeline with dvc repro")
    repro.add_argument("overrides", nargs="*", help=overrides_help)
    repro.set_defaults(func=_repro)
    params = commands.add_parser(
        "params",
        help="compose params.yaml from conf/ (with overrides), write overrides into conf/ "
        "(set), check params.yaml is what conf/ composes to, or write into conf/ what "
        "params.yaml holds (keep: after `dvc exp apply` or `dvc exp branch`)",
    )
    params.add_argument("action", choices=["compose", "set", "check", "keep"])
    params.add_argument("overrides", nargs="*", help=overrides_help)
    params.set_defaults(func=_params)
    exp = commands.add_parser(
        "exp",
        help="best: rank this commit's DVC experiments by their cross-validated score "
        "(never the test metric); --apply brings the best into the workspace",
    )
    exp.add_argument("action", choices=["best"])
    exp.add_argument("--apply", action="store_true", help="dvc exp apply the best")
    exp.set_defaults(func=_exp)
    tune = commands.add_parser(
        "tune", help="keep: write tune=optuna's chosen settings (paths.tuned) into conf/"
    )
    tune.add_argument("action", choices=["keep"])
    tune.set_defaults(func=_tune)
    server = commands.add_parser(
        "stage-server",
        help="status: whether the warm stage server is up; stop: ask it to exit once the "
        "stages it runs have ended (it also exits after 10 idle minutes)",
    )
    server.add_argument("action", choices=["status", "stop"])
    server.add_argument(
        "--all", action="store_true", help="every server of this environment (older code too)"
    )
    server.set_defaults(
        func=lambda args: stage_server_control.stage_server_command(args.action, args.all)
    )
    return parser


def own_tools_first() -> None:
    """This environment's `dvc` and `python` first on PATH for the commands it starts
    (dvc, and the stages dvc runs), as an activated venv or `make` has them: `.venv/bin/mlops
    ct`, as the CT workflow runs it, found no dvc (or another environment's)."""
    if not sys.executable or not (Path(sys.executable).parent / "dvc").exists():
        return  # a Python without its own dvc (a system one): PATH decides, as it did
    own = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != own:
        os.environ["PATH"] = os.pathsep.join([own, path]) if path else own


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    own_tools_first()
    use_configured_uri()
    return run_reporting_errors(lambda: args.func(args))


def run() -> int:
    """The `mlops` command and `python -m mlops_template`: main, then a quick exit."""
    stop_signals.install()
    code = main()
    # At exit Python collects every object the imports made (MLflow, scikit-learn,
    # pandas): ~0.4 s of every command. Frozen, they are skipped; atexit handlers,
    # weakref finalizers and flushes still run (only __del__ of objects in reference
    # cycles does not).
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
