"""``python -m facelab.grading.sandbox create-users N | probe [MODE]``."""

from __future__ import annotations

import sys

from ...errors import GradingError
from .probe import ensure_users, probe


def _main(argv=None) -> int:
    """``python -m facelab.grading.sandbox create-users N | probe [MODE]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["create-users"] and len(args) == 2 and args[1].isdigit():
            for name, uid, _ in ensure_users(int(args[1])):
                print(f"{name} uid {uid}")
            return 0
        if args[:1] == ["probe"] and len(args) <= 2:
            print(probe(*(args[1:] or ["auto"])).describe())
            return 0
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print("usage: python -m facelab.grading.sandbox create-users N | probe [auto|namespaces|user]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main())
