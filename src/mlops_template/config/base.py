"""The base of every config model: strict (an unknown key fails) and frozen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _not_a_bool(value: object) -> object:
    """pydantic reads true as 1: a count, size or range end given as true/false is a mistake."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


NOT_BOOL = BeforeValidator(_not_a_bool)  # in every numeric setting: Annotated[int | float, ...]
NonNegInt = Annotated[int, NOT_BOOL, Field(ge=0)]
PosInt = Annotated[int, NOT_BOOL, Field(ge=1)]
# numpy and scikit-learn take seeds below 2**32 only: a bigger one failed in train, not here.
Seed = Annotated[int, NOT_BOOL, Field(ge=0, lt=2**32)]
Share = Annotated[float, NOT_BOOL, Field(gt=0, le=1)]  # a fraction above 0, at most all


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Spark(Strict):
    """A Spark session's settings: where it runs, and Spark settings of its own."""

    master: str = Field(min_length=1)
    conf: dict[str, str | int | float | bool] = {}


class Engine(Strict):
    """Where the data stages (collect, validate, prepare) run: in the stage's process on
    pandas, or on a Spark session (conf/engine/)."""

    name: Literal["pandas", "spark"]
    spark: Spark
