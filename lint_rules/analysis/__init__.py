"""Domain analysis shared by the rules: what is an LLM, what is conversation-scoped, what pins."""
