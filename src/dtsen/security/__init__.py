"""Accounts, roles and the policy, keys, tokens, logins and the audit chain (issue 14).

    dtsen.security.principal  `Principal` and `Grant`: who is asking, with which roles where
    dtsen.security.rules      the policy's rule table (policy.toml): loaded and checked at start-up
    dtsen.security.policy     `Policy.decide` / `Policy.scope`: may this principal do this, and see what
    dtsen.security.keys       `KeyStore`: owner-only key files under the project
    dtsen.security.passwords  argon2id password hashing and the password rules
    dtsen.security.totp       the TOTP second factor
    dtsen.security.tokens     signed, revocable access tokens
    dtsen.security.accounts   users and machine clients: add, list, disable, reset, rotate, revoke
    dtsen.security.authentication  password + TOTP logins, client credentials, token -> principal
    dtsen.security.lockout    failed logins: rate limits and lockout
    dtsen.security.audit      the append-only audit chain: append, signed checkpoints, verify
    dtsen.security.audit_writer  group commit of many requests' audit entries
    dtsen.security.masking    NIK/KK masking for anything that is logged
    dtsen.security.context    `Security`: all of the above for one project, built from its settings
    dtsen.security.errors, .settings, .clock   its errors, the `[security]` section, the clock
"""
