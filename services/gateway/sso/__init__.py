"""Single sign-on: the OpenID Connect relying party, its providers file and the login flow."""
