"""Helpers for the worker process itself, not for any one kind of fact (issue #28's memory work).

- ``offload``: run a heavy, short-lived step on a large persona (parse, check, build its Bundle) in
  a forked child, so the worker never holds the transient objects;
- ``memory``: give freed heap back to the system (glibc's ``malloc_trim``) and map large blocks on
  their own (``mallopt``), so a worker's size follows what it keeps.

They know nothing of personas, control state or FHIR: a step is any picklable function, and the
callers (the run-time persona layer in ``personas``, the persona PUT in ``http``, migrate's Bundle
build in ``interactions``, ``create_app``) decide what is large. So they sit in a small package of
their own at the bottom of the layers rather than in ``personas``: they are about the process, and
four layers call them.

Imports: the standard library only; nothing of mockprovider (every layer may import this one).
"""
