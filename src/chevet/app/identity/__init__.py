"""Who acts: organisations, people, sign-in (password, TOTP, passkeys, Pro Santé Connect),
sessions and the organisations' keys."""
