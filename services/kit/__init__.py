"""The one shared runtime every teei-mesh service is built from."""
