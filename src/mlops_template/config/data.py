"""The data group of the config: where the rows come from (a scikit-learn set, a file or
table, synthetic rows, the bundled demo) and what the target and ID are."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlops_template.config.base import NOT_BOOL, NonNegInt, PosInt, Seed, Strict
from mlops_template.errors import redact

Task = Literal["auto", "classification", "regression"]


class _DataBase(Strict):
    target: str = Field(min_length=1)
    # The column that identifies a row: split.key by default, copied into predictions.
    id_column: str | None = Field(default=None, min_length=1)
    task: Task = "auto"
    drop_columns: list[str] = []
    watch: str


class SklearnData(_DataBase):
    source: Literal["sklearn"]
    name: Literal["breast_cancer", "wine", "diabetes"]

    @property
    def origin(self) -> str:
        """Where the data comes from, for messages."""
        return f"sklearn dataset {self.name}"


class FileData(_DataBase):
    source: Literal["file"]
    format: Literal["csv", "parquet", "delta"]
    path: str = Field(min_length=1)
    sep: str = Field(default=",", min_length=1)

    @property
    def origin(self) -> str:
        return redact(self.path)  # a URL's password or token stays out of messages


class SyntheticData(_DataBase):
    source: Literal["synthetic"]
    task: Literal["classification", "regression"]
    n_rows: Annotated[int, NOT_BOOL, Field(ge=10)]
    seed: Seed
    n_numeric: PosInt
    n_categorical: NonNegInt
    n_classes: Annotated[int, NOT_BOOL, Field(ge=2)] = 2
    missing_rate: Annotated[float, NOT_BOOL, Field(ge=0, lt=1)] = 0.0
    noise: Annotated[float, NOT_BOOL, Field(ge=0)] = 0.1
    # A text column `code` of this many levels (0: none), and a free-text column `text`:
    # each carries an informative column's signal, as a level's effect or as a word.
    n_levels: Annotated[int, NOT_BOOL, Field(ge=0)] = 0
    text: bool = False

    @property
    def origin(self) -> str:
        return f"synthetic data (seed {self.seed})"

    @property
    def n_informative(self) -> int:
        return self.n_numeric + self.n_categorical + (self.n_levels > 0) + self.text

    @model_validator(mode="after")
    def _enough_features_for_classes(self) -> SyntheticData:
        # make_classification puts two clusters per class on the corners of a hypercube
        # over the informative features: 2 * n_classes must fit in 2 ** n_features.
        n_features = self.n_informative
        if self.task == "classification" and 2 * self.n_classes > 2**n_features:
            raise ValueError(
                f"n_classes={self.n_classes} needs more features than the "
                f"{n_features} informative ones (n_numeric, n_categorical, code, text)"
            )
        return self


class DemoData(_DataBase):
    """The bundled demo table (core/demo.py), generated offline from a seed."""

    source: Literal["demo"]
    name: Literal["customers"]
    n_rows: Annotated[int, NOT_BOOL, Field(ge=10)] = 2000
    seed: Seed = 0

    @property
    def origin(self) -> str:
        return f"demo data {self.name} (seed {self.seed})"


Data = Annotated[SklearnData | FileData | SyntheticData | DemoData, Field(discriminator="source")]
