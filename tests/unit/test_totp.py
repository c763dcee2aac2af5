import base64

from chevet.core import totp

# RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; 6-digit codes are the last 6 digits.
SEED = base64.b32encode(b"12345678901234567890").decode()
VECTORS = {59: "287082", 1111111109: "081804", 1111111111: "050471", 1234567890: "005924",
           2000000000: "279037", 20000000000: "353130"}


def test_rfc6238_vectors() -> None:
    for t, code in VECTORS.items():
        assert totp.code_at(SEED, totp.step_of(t)) == code


def test_verify_accepts_adjacent_steps_and_refuses_replay() -> None:
    now = 1234567890.0
    step = totp.step_of(now)
    assert totp.verify(SEED, totp.code_at(SEED, step - 1), now, None) == step - 1
    assert totp.verify(SEED, totp.code_at(SEED, step + 1), now, None) == step + 1
    assert totp.verify(SEED, totp.code_at(SEED, step - 2), now, None) is None
    assert totp.verify(SEED, "005924", now, last_used_step=step) is None  # replay
    assert totp.verify(SEED, "005 924", now, None) == step


def test_malformed_codes_are_refused() -> None:
    for bad in ("", "12345", "1234567", "abcdef", "٠٠٥٩٢٤"):
        assert totp.verify(SEED, bad, 1234567890.0, None) is None


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = totp.provisioning_uri("ABC", "sophie@example.org", "Chevet")
    assert uri.startswith("otpauth://totp/Chevet%3Asophie%40example.org?") and "secret=ABC" in uri
