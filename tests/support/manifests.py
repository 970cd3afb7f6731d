"""A sample manifest for the manifest and command-line tests: one of every kind.

``BASE`` holds a project, an LLM with a key reference, an agent with params, extras and
a default personality, prompts in each scope (agent-direct, project, global, two named
``house``) and a personality binding three of them, one with a priority override.
"""

from __future__ import annotations

BASE = """\
kind: project
name: web
description: The web team
---
kind: llm
name: openai-main
type: openai
model: gpt-4o
url: https://api.openai.com/v1
apiKeyRef: env:OPENAI_API_KEY
tier: fast
---
kind: agent
name: helper
llm: openai-main
project: web
description: Answers questions
systemPrompt: |
  You are helpful.
  Be brief.
defaultParams: {temperature: 0.2, max_tokens: 512}
extras: {labels: [search]}
defaultPersonality: terse
---
kind: prompt
name: style
agent: helper
content: Short answers.
priority: 3
---
kind: prompt
name: house
project: web
content: House rules.
---
kind: prompt
name: house
content: Global house rules.
---
kind: prompt
name: safety
content: Be safe.
priority: 10
---
kind: personality
name: terse
agent: helper
description: Very short
priority: 1
prompts:
- {name: style, priority: 5}
- name: house
- name: safety
"""
