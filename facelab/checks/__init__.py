"""The checks: call a graded function on cases, judge the answer, name the mistake.

One entry point for the notebooks and the grader (``from facelab.checks import
check_verify, hint``). Engine and content live apart, and content is data:

engine (knows no case, no expected value, no mistake)
    :mod:`.calling`    calling a function on a case's arguments (what student code runs beside)
    :mod:`.judging`    judging what came back: fields, kinds, printed messages
    :mod:`.engine`     cases, results, mistakes as types; judging one outcome; the report
    :mod:`.checking`   the notebooks' ``check_*`` and ``hint``; loads the content on first use
content (data)
    :mod:`.resources`  the values case arguments name (the model, the office database...)
    :mod:`.contracts`  what each graded function accepts, returns and prints, as the text says it
    :mod:`.suite`      the exercises' cases (secret: hidden cases)
    :mod:`.mistakes`   the mistake catalogue (secret)
    :mod:`.hints`      hints on demand

Content imports the engine, never the other way round (the engine's one
upward step, :func:`.checking._content`, is a call-time import), so no
module imports in a circle. Importing this package imports no secret module:
a sandboxed grading worker needs only :mod:`.calling` and :mod:`.resources`.
"""

from __future__ import annotations

from .calling import (PROBE, Outcome, Resource, call_case, fresh, keep_source,  # noqa: F401
                      kind_of, plain, resolve)
from .checking import (SECRET_MODULES, build_resource, cases, check,  # noqa: F401
                       check_pixel_distance, check_triplet_loss, check_verify,
                       check_who_is_it, exercises, hint, hints_asked,
                       require_finished)
from .engine import (UNFINISHED, Answer, Case, CaseResult, Check, CheckResult,  # noqa: F401
                     Exercise, Mistake, consistent, explain, judge_case)
from .judging import (Differentiable, Expected, Flag, Number, Returns, Text,  # noqa: F401
                      Verdict)
from .resources import MODEL, OFFICE_DB  # noqa: F401
