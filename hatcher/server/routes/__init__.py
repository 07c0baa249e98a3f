"""The route modules of the embedded Brood, one per resource."""
