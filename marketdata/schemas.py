"""Schema fields shared by every API block that describes the market data behind its numbers."""

from __future__ import annotations

from typing import Annotated

from ninja import Field

MarketState = Annotated[
    str,
    Field(
        description="Session state of the data (REGULAR, PRE, POST, POSTPOST, CLOSED; '' unknown)"
    ),
]
MarketOpen = Annotated[
    bool,
    Field(description="False outside the regular session: values are as of as_of (the close)"),
]
