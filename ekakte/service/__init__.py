"""The HTTP service (`ekakte serve`): the archive's use cases over HTTP, behind single sign-on.

It calls `ekakte.api` and nothing else of the library (tests/unit/test_layout.py says so): every request
is decided and audited by the same use cases the CLI calls, with the channel `api`, the client's address
and the request id in each audit entry.

- `settings`: what the service reads from the environment beside the archive's settings;
- `problems`: errors as application/problem+json (RFC 9457), with the status of `ekakte.errors.OUTCOMES`;
- `oidc`: access tokens of the OpenID provider, checked against its published keys;
- `identity`: who is asking (the bearer token's user, a `service` acting for a caseworker);
- `http`: what every request passes through (request id, client address, limits, metrics, the log);
- `routes`: the API, version 1;
- `app`: the application, put together.
"""
