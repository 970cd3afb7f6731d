"""LLM wire formats: typed requests and events, an adapter registry, a module per format."""
