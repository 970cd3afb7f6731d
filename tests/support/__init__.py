"""Test support: what tests and benchmarks use and the program does not.

- ``store_seed``: create rows (LLMs, projects, agents, prompts, personalities, bindings);
- ``store_rows``: read and edit rows by id;
- ``message_append``: append a turn to a thread on its own (racing writers safe);
- ``chat_race``: sender processes racing to one thread through ``ChatService``, and the
  check of the thread they leave.
"""
