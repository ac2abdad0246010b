"""Provider wire formats: OpenAI Chat Completions, Anthropic Messages, and a generic format."""
