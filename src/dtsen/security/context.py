"""`Security`: the store, keys, policy, audit chain, tokens, accounts and authenticator of one
project, built once from its settings (by the CLI for a command, by the app factory for the
service). Nothing here is built at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dtsen.config import Settings
from dtsen.security.accounts import Accounts
from dtsen.security.audit import AuditLog
from dtsen.security.audit_writer import AuditWriter
from dtsen.security.authentication import Authenticator
from dtsen.security.clock import Clock, utcnow
from dtsen.security.errors import PolicyError
from dtsen.security.keys import KeyStore
from dtsen.security.policy import Policy
from dtsen.security.tokens import Tokens, TokenSigner
from dtsen.store.connection import Store
from dtsen.store.tables import assignments


@dataclass
class Security:
    settings: Settings
    store: Store
    keys: KeyStore
    policy: Policy
    audit: AuditLog
    tokens: Tokens
    accounts: Accounts
    auth: Authenticator
    writer: AuditWriter

    @classmethod
    def open(cls, settings: Settings, store: Store | None = None, clock: Clock = utcnow) -> Security:
        """Everything for `settings`' project; the store is opened from `[store]` unless given."""
        sec = settings.security
        if store is None:
            store = Store.from_settings(settings.store, settings.project.root)
        keys = KeyStore(settings.path(sec.key_dir))
        keys.audit_signer()  # a key problem shows at start, not at the first checkpoint
        policy = Policy.load(settings.path(sec.policy_file) if sec.policy_file else None)
        audit = AuditLog(keys, sec.audit_checkpoint_every, clock)
        tokens = Tokens(TokenSigner(keys.token_key()), clock)
        accounts = Accounts(store, keys, policy, audit, tokens, sec, tuple(settings.programmes), clock)
        auth = Authenticator(store, keys, tokens, audit, sec, clock)
        return cls(settings, store, keys, policy, audit, tokens, accounts, auth, AuditWriter(store, audit))

    def check_assignments(self) -> None:
        """Refuse to start when the store grants roles the policy does not know (a changed
        policy file must not silently drop or widen anyone's access)."""
        with self.store.reading() as conn:
            roles = set(conn.execute(sa.select(assignments.c.role).where(assignments.c.revoked_at.is_(None))
                                     .distinct()).scalars())
        unknown = sorted(roles - set(self.policy.table.roles))
        if unknown:
            raise PolicyError(f"the store grants roles that {self.policy.table.label} does not define: "
                              f"{', '.join(unknown)}; restore them in the policy or revoke the grants")

    def close(self) -> None:
        self.writer.close()
        self.store.dispose()
