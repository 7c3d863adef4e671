"""How hard the fuzz harnesses (property tests of hostile input) try.

A bounded count keeps them in the fast tier; `make fuzz` sets COWORK_FUZZ_EXAMPLES to run
thousands of examples.
"""

from __future__ import annotations

import os

FUZZ_EXAMPLES = int(os.environ.get("COWORK_FUZZ_EXAMPLES", "40"))
