"""What participants decide: initiators, contributors and verifiers, and their behaviours."""
