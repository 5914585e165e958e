"""Model access: the provider seam over the openai SDK, retries and fallbacks, prices,
budgets and token estimates. Knows nothing of git or of the workflow."""
