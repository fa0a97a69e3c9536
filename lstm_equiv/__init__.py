"""lstm-equiv's one import name: ``lstm_equiv.harness`` (the repository's harness/) and
``lstm_equiv.reference`` (reference/).

Installed from the wheel, both sit inside this package. In the repository they are the top-level folders
harness/ and reference/ beside this one (the layout the project keeps), and this package's path is the
repository's root, so that ``lstm_equiv.harness`` is harness/ there too: in a checkout run from its root,
in the editable install, and in the copies tools/plausible_mutants.py tests (tools/mutation_run.py lays
its copy out as the wheel does, harness/ and reference/ inside this folder, which mutmut needs).

PYTEST_DONT_REWRITE: pytest marks the packages of a plugin's distribution for assertion rewriting and warns
when one is imported already, as it is in the tests' in-process pytest runs (measured in a clean CI run: the
warning's count broke an expected "8 passed, 1 error"); the package asserts nothing pytest should explain.
"""

from pathlib import Path

_here = Path(__file__).resolve().parent
if not (_here / "harness").is_dir():  # the repository: harness/ and reference/ beside this folder
    __path__ = [str(_here.parent)]
