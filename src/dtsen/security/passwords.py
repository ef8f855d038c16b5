"""People's passwords: argon2id hashes (argon2-cffi) and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dtsen.security.settings import SecuritySettings


class Passwords:
    def __init__(self, settings: SecuritySettings) -> None:
        self.min_length = settings.password_min_length
        self._hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                      parallelism=2, type=Type.ID)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no stored hash (unknown user) the same work
        is done against a dummy hash, so that timing does not tell which usernames exist."""
        if stored is None:
            if self._dummy is None:
                self._dummy = self._hasher.hash("dtsen-dummy-password")
            stored = self._dummy
            password = password + "\x00"  # never matches
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def problems(self, password: str, username: str) -> list[str]:
        """Why `password` is not acceptable (empty: it is). Messages hold no part of it."""
        out = []
        if len(password) < self.min_length:
            out.append(f"kata sandi minimal {self.min_length} karakter / the password needs at least "
                       f"{self.min_length} characters")
        if username and username.lower() in password.lower():
            out.append("kata sandi tidak boleh memuat nama pengguna / the password must not contain the username")
        if len(set(password)) < 5:
            out.append("kata sandi terlalu sederhana / the password has too few different characters")
        return out
