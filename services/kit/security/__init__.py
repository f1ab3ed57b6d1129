"""Who may call what: tokens, tenancy, access rules, mutual TLS, service tokens, webhook signatures."""
