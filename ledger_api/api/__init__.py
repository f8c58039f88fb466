"""HTTP interface: routes per resource, request/response schemas, problem responses."""
