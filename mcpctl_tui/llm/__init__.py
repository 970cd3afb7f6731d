"""LLM wire formats: typed requests and events, an adapter registry, a module per format.

- ``request``: Message, Endpoint, InferenceRequest (what goes in).
- ``events``: TextDelta, ThinkingDelta, ToolCallDelta, Usage, Finish, StreamError.
- ``registry.get_adapter(type)``: the Adapter (``base.Adapter``) for an LLM type.
- ``openai``, ``anthropic``, ``ollama``, ``echo``: one module per wire format.
- ``sse``: the incremental Server-Sent Events parser; ``transport``: one streamed POST
  with typed errors; ``http.make_client()``: the shared client and its timeouts.
- ``tools.ToolCallAccumulator``: tool-call fragments -> the OpenAI ``tool_calls`` list.
"""
