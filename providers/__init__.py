"""Service providers behind the activities: one interface per role, local and Azure implementations.

`providers.base` holds the interfaces and value types, `providers.errors` the one error
hierarchy, `providers.factory` picks an implementation per role from settings. Azure SDKs are
imported only inside their implementation modules.
"""
