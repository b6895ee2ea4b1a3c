"""Starters (HTTP and Service Bus), the status route and the OpenAPI route."""
