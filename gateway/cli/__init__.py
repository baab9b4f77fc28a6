"""The `identity-gateway` command line: `main` assembles it; one module per command group."""
