"""Which notebook cells are graded: the ``# GRADED FUNCTION: name`` header.

The one definition used by ``facelab release`` (which hides the solution in
those cells) and by the grader (which takes the function from them). A cell
is graded when one of its lines is exactly such a comment (leading spaces,
any letter case); the name is the first such header's.
"""

from __future__ import annotations

import re

#: a line holding ``# GRADED FUNCTION: <python name>``
GRADED_HEADER = re.compile(r"^[ \t]*#[ \t]*GRADED[ \t]+FUNCTION[ \t]*:[ \t]*([A-Za-z_]\w*)",
                           re.I | re.M)


def graded_name(source: str) -> str | None:
    """The exercise name if the cell ``source`` is graded, else None.

    ``source`` is the cell's text; an empty cell is not graded.
    """
    match = GRADED_HEADER.search(source)
    return match.group(1) if match else None
