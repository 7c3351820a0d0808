"""The kinds of value a setting can hold: how each is parsed, bounded and shown.

A kind turns the raw text of one environment variable into a value, or raises
SettingsError with one line that names the variable. `show` renders a value as
the README's Settings table writes it, so the table can be checked against the
declaration (`common.settings.VARIABLES`) instead of being a second truth.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

PREFIX = "CLIENTKEYS_"
EN_DASH = "\u2013"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """One clear line about one setting."""


class Kind(Protocol):
    def parse(self, name: str, raw: str) -> object:
        """The value of `raw` (stripped, never empty) for the variable `name`."""

    def show(self, value: object) -> str:
        """`value` as the README writes it (without backticks)."""


def _shown(value: object) -> str:
    return "—" if value in (None, "", ()) else str(value)


@dataclass(frozen=True)
class Text:
    """Free text, optionally held to a pattern or to URL schemes."""

    pattern: re.Pattern[str] | None = None
    rule: str = ""  # what the pattern asks, for the error
    schemes: tuple[str, ...] = ()

    def parse(self, name: str, raw: str) -> object:
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            raise SettingsError(f"{PREFIX}{name} must be {self.rule}, not {raw!r}")
        if self.schemes and not raw.startswith(self.schemes):
            raise SettingsError(f"{PREFIX}{name} must start with "
                                f"{' or '.join(self.schemes)}")
        return raw

    def show(self, value: object) -> str:
        return _shown(value)


@dataclass(frozen=True)
class Number:
    """An integer or a decimal number within inclusive bounds."""

    minimum: float
    maximum: float
    integer: bool = False

    def parse(self, name: str, raw: str) -> object:
        try:
            value: float = int(raw) if self.integer else float(raw)
        except ValueError:
            kind = "an integer" if self.integer else "a number"
            raise SettingsError(f"{PREFIX}{name} must be {kind}, not {raw!r}") from None
        # NaN fails both comparisons, so it is refused here too.
        if not self.minimum <= value <= self.maximum:
            raise SettingsError(f"{PREFIX}{name} must be between {self.bounds}")
        return value

    @property
    def bounds(self) -> str:
        return f"{_plain(self.minimum)} and {_plain(self.maximum)}"

    @property
    def span(self) -> str:
        """The bounds as the README's Settings tables write them: `0` en dash `60`."""
        return f"{_plain(self.minimum)}{EN_DASH}{_plain(self.maximum)}"

    def show(self, value: object) -> str:
        assert isinstance(value, int | float)
        return _plain(value)


def _plain(number: float) -> str:
    """2592000, not 2.592e+06; 0.1 as it is."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def Integer(minimum: int, maximum: int) -> Number:
    return Number(minimum, maximum, integer=True)


@dataclass(frozen=True)
class Choice:
    """One of a few words, in any case."""

    allowed: tuple[str, ...]
    upper: bool = False

    def parse(self, name: str, raw: str) -> object:
        value = raw.upper() if self.upper else raw.lower()
        if value not in self.allowed:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(self.allowed)}, "
                                f"not {raw!r}")
        return value

    def show(self, value: object) -> str:
        return _shown(value)


@dataclass(frozen=True)
class Flag:
    def parse(self, name: str, raw: str) -> object:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{PREFIX}{name} must be true or false, not {raw!r}")

    def show(self, value: object) -> str:
        return "true" if value else "false"


@dataclass(frozen=True)
class FilePath:
    """A file's path; whether it can be read is checked by whoever reads it."""

    def parse(self, name: str, raw: str) -> object:
        return Path(raw)

    def show(self, value: object) -> str:
        return _shown(value)


@dataclass(frozen=True)
class Networks:
    """Comma-separated IP addresses or CIDR networks, of either family."""

    def parse(self, name: str, raw: str) -> object:
        networks: list[Network] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise SettingsError(f"{PREFIX}{name} must be comma-separated IP addresses or "
                                    f"CIDR networks, not {part[:60]!r}") from None
        return tuple(networks)

    def show(self, value: object) -> str:
        return _shown(value)


@dataclass(frozen=True)
class KeySetUrl:
    """Where a key set is fetched: https, or http on a loopback host only."""

    def parse(self, name: str, raw: str) -> object:
        try:
            parts = urlsplit(raw)
            scheme, host = parts.scheme, parts.hostname
        except ValueError:
            scheme, host = "", None
        loopback = host in ("localhost", "127.0.0.1", "::1")
        if not host or not (scheme == "https" or (scheme == "http" and loopback)):
            raise SettingsError(f"{PREFIX}{name} must be an https:// URL "
                                "(http:// only on a loopback host)")
        return raw

    def show(self, value: object) -> str:
        return _shown(value)
