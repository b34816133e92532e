"""Command line for the stages and helpers: `python -m mlops_template <command>`.

dvc.yaml, MLproject and the Makefile all call this, so every way of running the
pipeline runs the same code.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

from mlops_template.errors import PipelineError

# Stage name -> what it does. Stage modules are imported only when run (they pull in
# pandas and scikit-learn, which take seconds).
STAGES = {
    "collect": "materialise the configured data source as one Parquet file",
    "validate": "check the data can be learned from, and settle the task",
    "prepare": "drop rows without a target; split into train and test",
    "train": "fit preprocessing and model; save it with its training schema",
    "evaluate": "score the test set; write metrics, plot data and figures",
}


def _run_stage(args: argparse.Namespace) -> int:
    from mlops_template.stages.runner import run_stage

    module = import_module(f"mlops_template.stages.{args.command}")
    run_stage(args.command, module.run, module.PARAMS)
    return 0


def _params(args: argparse.Namespace) -> int:
    from mlops_template import compose

    root = Path.cwd()
    if args.action == "check":
        diff = compose.stale_diff(root)
        if diff:
            sys.stdout.write(diff)
            raise PipelineError(
                "params.yaml is stale: conf/ composes to something else "
                "(run `make params` and commit the result)"
            )
        print("params.yaml is up to date with conf/")
        return 0
    path = compose.write_params(root, args.overrides)
    print(f"wrote {path.name} from conf/ {' '.join(args.overrides)}".rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for stage, summary in STAGES.items():
        commands.add_parser(stage, help=summary).set_defaults(func=_run_stage)
    params = commands.add_parser("params", help="compose params.yaml from conf/, or check it")
    params.add_argument("action", choices=["compose", "check"])
    params.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=random_forest")
    params.set_defaults(func=_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
