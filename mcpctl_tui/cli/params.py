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


class Age(click.ParamType[float]):
    """How far back: ``30m``, ``12h``, ``7d``, ``2w`` (or plain seconds), as seconds."""

    name = "age"
    UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        text = str(value).strip().lower()
        unit = self.UNITS.get(text[-1:], None)
        number = text[:-1] if unit is not None else text
        try:
            amount = float(number) * (unit or 1.0)
        except ValueError:
            self.fail(f"{value!r} is not an age like 30m, 12h, 7d or 2w", param, ctx)
        if not (math.isfinite(amount) and amount > 0):
            self.fail("must be a positive age (30m, 12h, 7d, 2w)", param, ctx)
        return amount


AGE = Age()
