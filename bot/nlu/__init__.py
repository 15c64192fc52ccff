"""Japanese NLU components for Rasa."""
