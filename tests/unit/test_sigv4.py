"""Signature Version 4 against AWS's own published examples.

- S3 API reference, "Authenticating Requests: Using the Authorization Header (AWS Signature
  Version 4)", example "GET Object" (the first 10 bytes of ``test.txt`` from ``examplebucket``).
- AWS Signature Version 4 test suite (general reference), ``get-vanilla`` and
  ``get-vanilla-query-order-key-case`` (service ``service``, 20150830T123600Z).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chevet.core import sigv4

S3_EXAMPLE = sigv4.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
SUITE = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def test_the_s3_get_object_example_with_a_range() -> None:
    headers = {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
               "x-amz-content-sha256": sigv4.EMPTY_SHA256, "x-amz-date": "20130524T000000Z"}
    request, signed = sigv4.canonical_request("GET", "/test.txt", {}, headers, sigv4.EMPTY_SHA256)
    assert signed == "host;range;x-amz-content-sha256;x-amz-date"
    assert request.splitlines()[:3] == ["GET", "/test.txt", ""]
    auth = sigv4.authorization(S3_EXAMPLE, method="GET", path="/test.txt", params={}, headers=headers,
                               payload_hash=sigv4.EMPTY_SHA256, amz_date="20130524T000000Z", region="us-east-1")
    assert auth == ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_the_s3_list_objects_example_signs_its_query() -> None:
    headers = {"Host": "examplebucket.s3.amazonaws.com", "x-amz-content-sha256": sigv4.EMPTY_SHA256,
               "x-amz-date": "20130524T000000Z"}
    auth = sigv4.authorization(S3_EXAMPLE, method="GET", path="/", params={"max-keys": "2", "prefix": "J"},
                               headers=headers, payload_hash=sigv4.EMPTY_SHA256, amz_date="20130524T000000Z",
                               region="us-east-1")
    assert auth.endswith("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")


@pytest.mark.parametrize(("params", "signature"), [
    ({}, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ({"Param2": "value2", "Param1": "value1"}, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
])
def test_the_signature_v4_test_suite(params: dict[str, str], signature: str) -> None:
    headers = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
    auth = sigv4.authorization(SUITE, method="GET", path="/", params=params, headers=headers,
                               payload_hash=sigv4.EMPTY_SHA256, amz_date="20150830T123600Z",
                               region="us-east-1", service="service")
    assert auth == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                    f"SignedHeaders=host;x-amz-date, Signature={signature}")


def test_dates_are_written_in_utc_and_the_secret_is_never_shown() -> None:
    paris = timezone(timedelta(hours=1))
    assert sigv4.amz_date(datetime(2026, 12, 7, 16, 30, tzinfo=paris)) == "20261207T153000Z"
    assert sigv4.amz_date(datetime(2026, 12, 7, 15, 30, tzinfo=UTC)) == "20261207T153000Z"
    with pytest.raises(ValueError):
        sigv4.amz_date(datetime(2026, 12, 7))
    assert "EXAMPLEKEY" not in repr(SUITE)
