"""Routes per resource: thin, they call a use case and convert."""
