"""The scripted OpenAI-compatible test gateway: ``script`` (what to answer), ``server``
(the state and the decisions, ``FakeGateway``) and ``http`` (the wire). Imports go
server -> http -> script, never back."""
