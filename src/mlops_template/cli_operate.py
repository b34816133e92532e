"""The operate commands of the command line (cli.py): predict, monitor, ct, labels,
shadow-report, simulate, serve and ui act on new rows with a registered model. Each
imports its subsystem only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlops_template.config import load_config
from mlops_template.errors import PipelineError


def _predict(args: argparse.Namespace) -> int:
    from mlops_template.operate.batch.predict import predict

    return predict(
        load_config(), args.batch, args.version, args.alias, args.table, engine=args.engine
    )


def _serve(args: argparse.Namespace) -> int:
    from mlops_template.operate.serving.serve import serve

    return serve(load_config(), args.alias, args.host, args.port)


def _ui(args: argparse.Namespace) -> int:
    from mlops_template.io.store import tracking_uri
    from mlops_template.operate.serving.serve import ui

    return ui(tracking_uri(), args.host, args.port)


def _from_log(args: argparse.Namespace) -> bool:
    """monitor and ct read a batch file or, with --log, the inference log: one of them."""
    if (args.batch is None) == (not args.log):
        raise PipelineError(
            f"{args.command} takes a batch file or --log (the inference log), one of them"
        )
    return args.log


def _monitor(args: argparse.Namespace) -> int:
    if _from_log(args):
        from mlops_template.operate.monitoring.log_monitor import monitor_log

        return monitor_log(load_config(), version=args.version, alias=args.alias)
    from mlops_template.operate.monitoring.monitor import monitor

    return monitor(load_config(), args.batch, version=args.version, alias=args.alias)


def _ct(args: argparse.Namespace) -> int:
    if _from_log(args):
        from mlops_template.operate.monitoring.ct import ct_from_log

        return ct_from_log(
            load_config(), version=args.version, alias=args.alias, verbose=args.verbose
        )
    from mlops_template.operate.monitoring.ct import ct

    return ct(
        load_config(), args.batch, version=args.version, alias=args.alias, verbose=args.verbose
    )


def _labels(args: argparse.Namespace) -> int:
    from mlops_template.operate.monitoring.labels import import_labels

    return import_labels(load_config(), Path(args.file), args.key, args.label_column)


def _compact_log(args: argparse.Namespace) -> int:
    from mlops_template.io.table_upkeep import compact

    table = args.table or load_config().predict.table
    print(compact(table, args.keep_hours).summary(table, args.keep_hours))
    return 0


def _shadow_report(_args: argparse.Namespace) -> int:
    from mlops_template.operate.monitoring.shadow_report import shadow_report

    return shadow_report(load_config())


def _simulate(args: argparse.Namespace) -> int:
    from mlops_template.operate.monitoring.simulate import simulate

    return simulate(
        load_config(),
        args.out,
        rows=args.rows,
        drift=args.drift,
        drifted_share=args.drifted_share,
        labels=args.labels,
        seed=args.seed,
    )


def _batch_command(
    commands: Any, name: str, summary: str, log: str | None = None
) -> argparse.ArgumentParser:
    """A command that takes a batch file and the model version or alias to use; with
    `log` (its help), --log instead of the batch (_from_log)."""
    command = commands.add_parser(name, help=summary)
    command.add_argument(
        "batch", help="the batch file (.csv or .parquet)", nargs="?" if log else None
    )
    if log:
        command.add_argument("--log", action="store_true", help=log)
    which = command.add_mutually_exclusive_group()
    which.add_argument("--version", help="registered version to use")
    which.add_argument("--alias", help="registry alias to use (default predict.alias)")
    return command


def add_operate_commands(commands: Any, flag: dict[str, Any]) -> None:
    """predict, monitor, simulate and serve: act on new batches with a registered model."""
    predict = _batch_command(
        commands, "predict", "score a CSV or Parquet batch into the predictions Delta table"
    )
    predict.add_argument("--table", help="Delta table to append to (default predict.table)")
    predict.add_argument(
        "--engine", choices=["pandas", "spark"], help="where to score (default predict.engine)"
    )
    predict.set_defaults(func=_predict)
    monitor = _batch_command(
        commands,
        "monitor",
        "drift of a batch, or of the inference log by time windows, against the model's "
        "training data (JSON + HTML)",
        log="the inference log (predict.table) by monitor.window, with its labels",
    )
    monitor.set_defaults(func=_monitor)
    loop = _batch_command(
        commands,
        "ct",
        "score, monitor and, if the labels show it worse, retrain and promote "
        "(exit 0 done, 4 alert, 2 error)",
        log="driven by the inference log's windows (ct.trigger) instead of a batch",
    )
    loop.add_argument(
        "--verbose",
        action="store_true",
        help="also the pipeline's and the gate's output, and the whole report",
    )
    loop.set_defaults(func=_ct)
    labels = commands.add_parser(
        "labels", help="join labels that arrived later to the logged predictions, by ID"
    )
    labels.add_argument("file", help="CSV or Parquet: an ID column, a label column, labelled_at")
    labels.add_argument(
        "--key", help="the ID column (default data.id_column if the file has it, else request_id)"
    )
    labels.add_argument(
        "--label-column", help="the labels (default the target's name if present, else label)"
    )
    labels.set_defaults(func=_labels)
    upkeep = commands.add_parser(
        "compact-log",
        help="rewrite the inference log's many small files into few (rows unchanged), "
        "then delete those no version of the last --keep-hours uses",
    )
    upkeep.add_argument("--table", help="the Delta table (default predict.table)")
    upkeep.add_argument(
        "--keep-hours",
        type=int,
        default=168,
        help="older versions stay readable this long (default 168, Delta's own)",
    )
    upkeep.set_defaults(func=_compact_log)
    shadow = commands.add_parser(
        "shadow-report",
        help="the shadow model (serve.shadow) against the served one on labelled logged rows",
    )
    shadow.set_defaults(func=_shadow_report)
    simulate = commands.add_parser(
        "simulate", help="SIMULATED incoming batch from held-out data, for demos and tests"
    )
    simulate.add_argument("out", help="where to write it (.csv or .parquet)")
    simulate.add_argument(
        "--rows", type=int, default=500, help="at most the held-out rows, each drawn once"
    )
    simulate.add_argument("--drift", type=float, default=0.0, help="shift, in standard deviations")
    simulate.add_argument(
        "--drifted-share", type=float, default=0.5, help="share of the columns moved"
    )
    simulate.add_argument("--labels", **flag, help="keep the target column")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.set_defaults(func=_simulate)
    serve = commands.add_parser("serve", help="serve a registry alias over REST (loopback)")
    serve.add_argument("--alias", default="champion")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5001)
    serve.set_defaults(func=_serve)
    ui = commands.add_parser("ui", help="the MLflow UI on the configured store (loopback)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=_ui)
