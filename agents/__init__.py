"""What participants decide: initiators, computing contributors and verifiers, and their behaviours."""
