"""Evidence beyond exit codes: test tampering, the plan as a contract, before and after."""
