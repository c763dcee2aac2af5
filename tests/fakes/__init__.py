"""In-memory fakes of the ports (``chevet.ports``), for unit tests of application rules.

They hold plain records in dictionaries (``Tables``) and answer the way the real repositories
do for what the tested actions call; every other method raises ``NotImplementedError``, so a
test that strays onto an unfaked path fails loudly instead of passing on a guess. Where a fake
differs from the real adapter on something a rule could depend on, its docstring says so.
``conformance.py`` lets mypy check that each fake implements its Protocol.

``world.World`` wires them into real ``Services`` and seeds organisations, people,
conversations and reports; tests then call the real ``chevet.app`` functions.
"""
