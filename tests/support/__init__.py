"""Test support: what tests and benchmarks use and the program does not.

- ``databases``: a fresh database per test on each backend, and a dump of every row;
- ``seed``: create rows (LLMs, projects, agents, prompts, personalities, bindings,
  threads with their turns);
- ``store_rows``: read and edit rows by id;
- ``message_append``: append a turn to a thread on its own (racing writers safe);
- ``chat_race``: sender processes racing to one thread through ``ChatService``, and the
  check of the thread they leave;
- ``llm_servers``: real HTTP servers on 127.0.0.1 speaking each wire format, in-process
  or as a subprocess, and the replies they send;
- ``providers``: a provider session as a real subprocess, its provider file, and a
  ``command`` upstream;
- ``cli_runs``: the command line in-process or as a subprocess;
- ``manifests``: a sample manifest with one of every kind;
- ``pilot``: the TUI running under a pilot, and acting and looking as the operator;
- ``slash_cases``: the slash-command cases both front ends must pass alike.
"""

from pathlib import Path

# The repository's root: the working directory (or PYTHONPATH) of subprocesses that run
# ``python -m tests.support…`` or import ``tests``.
REPO_ROOT = Path(__file__).resolve().parents[2]
