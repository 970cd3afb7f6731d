"""Command-line value types shared by the verbs."""

from __future__ import annotations

import math
from typing import Any

import click


class Seconds(click.ParamType[float]):
    """A finite, positive number of seconds. Zero or less would make a loop spin (a
    provider beating or polling without pause, a sweep with no interval)."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not (math.isfinite(seconds) and seconds > 0):
            self.fail("must be a positive number of seconds", param, ctx)
        return seconds


SECONDS = Seconds()


# A row id as the store holds it (a signed 64-bit integer): a bigger number is a usage
# error here, not an OverflowError from the driver.
ROW_ID = click.IntRange(1, 2**63 - 1)
