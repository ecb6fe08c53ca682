"""The NLU review loop: misunderstood candidate messages, reviewed by HR, retrained on and
swapped in after a blind evaluation (see docs/nlu.md, "Reviewing misunderstood messages")."""
