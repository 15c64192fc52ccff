"""Input channels: thin adapters between a platform and the Rasa agent.

Each channel verifies, parses, normalizes and redacts; no business logic lives here.
"""
