"""Training sets for data scientists: assets gated on the analytics checks, their job and schedule."""
