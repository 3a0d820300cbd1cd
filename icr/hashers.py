"""How sign-in passwords are hashed: Argon2id at OWASP's minimum parameters.

Django's default, PBKDF2-SHA256 at 1,000,000 iterations, costs about 190 ms of one CPU core per
sign-in on a small server (two cores), which made the sign-in POST take 0.8–1.9 s when a few
people signed in at once. PBKDF2 buys its strength with time only, which GPUs have plenty of;
Argon2id also needs memory per guess, which they have little of. OWASP's Password Storage Cheat
Sheet lists Argon2id with 19 MiB, 2 passes and 1 lane as a minimum on a par with PBKDF2-SHA256
at 600,000 iterations: here it takes about 17 ms, and 19 MiB per sign-in in progress.

The trade-off, plainly: an attacker who steals the database pays about a tenth of the CPU time
per guess that they paid against 1M-iteration PBKDF2, but needs 19 MiB of fast memory for
each guess in flight, which is what limits GPU cracking. Raise `memory_cost` (KiB) before
`time_cost` if the servers have memory to spare. Hashes made with PBKDF2 still verify (it
stays in PASSWORD_HASHERS) and are rehashed with Argon2id at the person's next sign-in.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class OwaspArgon2PasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's: the parameters are stored in each hash, so Django's
    # hasher verifies these hashes and the other way round, and changing them rehashes on the
    # next sign-in (`must_update`).
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
