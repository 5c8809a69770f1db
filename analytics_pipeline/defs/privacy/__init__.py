"""Privacy: the scrubbing step (validate, pseudonymize, scrub, stage) and the checks that guard it."""
